"""The title normaliser over real-world titles: seniority and department, in the common forms of
several languages."""

import pytest

from agents.titles import normalize_title

TITLES = [
    # (raw title, seniority, department)
    ("CEO", "c_level", "executive"),
    ("Chief Executive Officer", "c_level", "executive"),
    ("Founder & CEO", "c_level", "executive"),
    ("CTO & Co-founder", "c_level", "engineering"),
    ("Co-Founder", "founder", "executive"),
    ("Owner", "founder", "executive"),
    ("CFO", "c_level", "finance"),
    ("Chief Revenue Officer", "c_level", "sales"),
    ("CMO", "c_level", "marketing"),
    ("CISO", "c_level", "security"),
    ("Chief People Officer", "c_level", "human_resources"),
    ("COO", "c_level", "operations"),
    ("President", "c_level", "executive"),
    ("Managing Director", "c_level", "executive"),
    ("Partner", "partner", "executive"),
    ("VP Sales", "vp", "sales"),
    ("VP of Engineering", "vp", "engineering"),
    ("SVP, Marketing", "vp", "marketing"),
    ("Vice President, Customer Success", "vp", "customer_success"),
    ("EVP Finance", "vp", "finance"),
    ("Head of Growth", "head", "marketing"),
    ("Head of Product", "head", "product"),
    ("Head of People", "head", "human_resources"),
    ("Head of Data", "head", "data"),
    ("Director of Engineering", "director", "engineering"),
    ("Sales Director", "director", "sales"),
    ("Marketing Director EMEA", "director", "marketing"),
    ("Sr. Director, Legal", "director", "legal"),
    ("Engineering Manager", "manager", "engineering"),
    ("Product Manager", "manager", "product"),
    ("Account Manager", "manager", "sales"),
    ("HR Manager", "manager", "human_resources"),
    ("Customer Support Team Lead", "manager", "customer_success"),
    ("Senior Software Engineer", "senior", "engineering"),
    ("Sr. Data Scientist", "senior", "data"),
    ("Staff Engineer", "senior", "engineering"),
    ("Principal Product Designer", "senior", "design"),
    ("Senior Account Executive", "senior", "sales"),
    ("Software Engineer", "ic", "engineering"),
    ("Frontend Developer", "ic", "engineering"),
    ("UX Designer", "ic", "design"),
    ("Account Executive", "ic", "sales"),
    ("SDR", "ic", "sales"),
    ("Recruiter", "ic", "human_resources"),
    ("Accountant", "ic", "finance"),
    ("Data Analyst", "ic", "data"),
    ("IT Support Specialist", "ic", "it"),
    ("Executive Assistant to the CEO", "ic", "operations"),
    ("Marketing Intern", "intern", "marketing"),
    ("Software Engineering Intern", "intern", "engineering"),
    ("General Counsel", "ic", "legal"),
    # French
    ("Vice-Président, Ventes", "vp", "sales"),
    ("Directeur Commercial", "director", "sales"),
    ("Directrice des Ressources Humaines", "director", "human_resources"),
    ("Président Directeur Général", "c_level", "executive"),
    ("Responsable Marketing", "manager", "marketing"),
    ("Ingénieur logiciel", "ic", "engineering"),
    ("Stagiaire Marketing", "intern", "marketing"),
    ("Chef de projet", "manager", "operations"),
    # German
    ("Geschäftsführer", "c_level", "executive"),
    ("Vertriebsleiter", "head", "sales"),
    ("Leiter Marketing", "head", "marketing"),
    ("Softwareentwickler", "ic", "engineering"),
    ("Werkstudent Vertrieb", "intern", "sales"),
    # Spanish, Portuguese, Italian, Dutch
    ("Director de Ventas", "director", "sales"),
    ("Gerente de Marketing", "manager", "marketing"),
    ("Jefe de Recursos Humanos", "head", "human_resources"),
    ("Ingeniero de Software", "ic", "engineering"),
    ("Diretor de Vendas", "director", "sales"),
    ("Estagiário de Engenharia", "intern", "engineering"),
    ("Amministratore Delegato", "c_level", "executive"),
    ("Responsabile Vendite", "manager", "sales"),
    ("Directeur Verkoop", "director", "sales"),
    ("Fundador y CEO", "c_level", "executive"),
]


def test_titles_table_has_at_least_sixty_real_titles():
    assert len({raw for raw, _, _ in TITLES}) >= 60


@pytest.mark.parametrize(("raw", "seniority", "department"), TITLES)
def test_titles_normalize_seniority_and_department(raw, seniority, department):
    result = normalize_title(raw)
    assert result is not None
    assert (result.seniority, result.department) == (seniority, department), result


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("VP Sales", "VP of Sales"),
        ("Vice-Président, Ventes", "VP of Sales"),
        ("CTO & Co-founder", "CTO"),
        ("Head of People", "Head of Human Resources"),
        ("Sr. Software Engineer", "Senior Software Engineer"),
        ("Geschäftsführer", "CEO"),
    ],
)
def test_titles_canonical_english_title(raw, canonical):
    assert normalize_title(raw).title == canonical


@pytest.mark.parametrize("raw", ["", "   ", "--", "&"])
def test_titles_nothing_to_normalize_is_none(raw):
    assert normalize_title(raw) is None
