"""The title normaliser: seniority, department and a canonical English title from a free-text
job title, without a language model.

Three table-driven steps: the title is folded (lower case, accents and punctuation gone), its
common forms in French, German, Spanish, Portuguese, Italian and Dutch are rewritten into
English phrases (`vice-président` → `vice president`, `vertriebsleiter` → `head sales`), and the
English phrases are looked up in the seniority and department tables. Where a title names
several roles ("CTO & Co-founder") the most senior one wins, and its department.
"""

import re
import unicodedata
from dataclasses import dataclass


class Seniority:
    C_LEVEL = "c_level"
    FOUNDER = "founder"
    PARTNER = "partner"
    VP = "vp"
    HEAD = "head"
    DIRECTOR = "director"
    MANAGER = "manager"
    SENIOR = "senior"
    IC = "ic"
    INTERN = "intern"


# Most senior first: the first level a title matches is its seniority.
_SENIORITY_ORDER = (
    Seniority.C_LEVEL,
    Seniority.FOUNDER,
    Seniority.PARTNER,
    Seniority.VP,
    Seniority.HEAD,
    Seniority.DIRECTOR,
    Seniority.MANAGER,
    Seniority.INTERN,
    Seniority.SENIOR,
)

DEPARTMENT_LABELS: dict[str, str] = {
    "executive": "Executive",
    "engineering": "Engineering",
    "product": "Product",
    "design": "Design",
    "data": "Data",
    "it": "IT",
    "security": "Security",
    "sales": "Sales",
    "marketing": "Marketing",
    "customer_success": "Customer Success",
    "finance": "Finance",
    "human_resources": "Human Resources",
    "operations": "Operations",
    "legal": "Legal",
    "other": "",
}

# Foreign and abbreviated forms → English, applied in order on the folded title (whole words;
# longer phrases first so "directeur general" is read before "directeur").
_REWRITES: tuple[tuple[str, str], ...] = (
    # French
    ("president directeur general", "chief executive officer"),
    ("directeur general delegue", "chief operating officer"),
    ("directrice generale", "chief executive officer"),
    ("directeur general", "chief executive officer"),
    ("pdg", "chief executive officer"),
    ("dg", "chief executive officer"),
    ("directeur financier", "chief financial officer"),
    ("directeur technique", "chief technology officer"),
    ("directeur commercial", "sales director"),
    ("directrice commerciale", "sales director"),
    ("vice presidente", "vice president"),
    ("vice president", "vice president"),
    ("chef de projet", "project manager"),
    ("chef de produit", "product manager"),
    ("chargee de", "specialist"),
    ("charge de", "specialist"),
    ("responsable", "manager"),
    ("directrice", "director"),
    ("directeur", "director"),
    ("gerante", "manager"),
    ("gerant", "manager"),
    ("cofondatrice", "co founder"),
    ("cofondateur", "co founder"),
    ("co fondatrice", "co founder"),
    ("co fondateur", "co founder"),
    ("fondatrice", "founder"),
    ("fondateur", "founder"),
    ("associee", "partner"),
    ("associe", "partner"),
    ("stagiaire", "intern"),
    ("alternant", "intern"),
    ("ingenieure", "engineer"),
    ("ingenieur", "engineer"),
    ("developpeuse", "developer"),
    ("developpeur", "developer"),
    ("commerciale", "sales"),
    ("commercial", "sales"),
    ("ventes", "sales"),
    ("vente", "sales"),
    ("ressources humaines", "human resources"),
    ("rh", "human resources"),
    ("comptable", "accountant"),
    ("juriste", "legal counsel"),
    ("avocat", "attorney"),
    # German
    ("geschaftsfuhrerin", "chief executive officer"),
    ("geschaftsfuhrer", "chief executive officer"),
    ("vorstandsvorsitzender", "chief executive officer"),
    ("vertriebsleiterin", "head sales"),
    ("vertriebsleiter", "head sales"),
    ("marketingleiterin", "head marketing"),
    ("marketingleiter", "head marketing"),
    ("personalleiterin", "head human resources"),
    ("personalleiter", "head human resources"),
    ("abteilungsleiterin", "head"),
    ("abteilungsleiter", "head"),
    ("teamleiterin", "manager"),
    ("teamleiter", "manager"),
    ("leiterin", "head"),
    ("leiter", "head"),
    ("softwareentwicklerin", "software developer"),
    ("softwareentwickler", "software developer"),
    ("entwicklerin", "developer"),
    ("entwickler", "developer"),
    ("praktikantin", "intern"),
    ("praktikant", "intern"),
    ("werkstudentin", "intern"),
    ("werkstudent", "intern"),
    ("grunderin", "founder"),
    ("grunder", "founder"),
    ("mitgrunderin", "co founder"),
    ("mitgrunder", "co founder"),
    ("vertrieb", "sales"),
    ("verkauf", "sales"),
    ("personal", "human resources"),
    ("buchhalterin", "accountant"),
    ("buchhalter", "accountant"),
    ("einkauf", "procurement"),
    # Spanish, Portuguese, Italian
    ("consejero delegado", "chief executive officer"),
    ("director general", "chief executive officer"),
    ("directora general", "chief executive officer"),
    ("diretor geral", "chief executive officer"),
    ("diretor executivo", "chief executive officer"),
    ("amministratore delegato", "chief executive officer"),
    ("direttore generale", "chief executive officer"),
    ("recursos humanos", "human resources"),
    ("risorse umane", "human resources"),
    ("jefe de", "head of"),
    ("jefa de", "head of"),
    ("directora", "director"),
    ("diretora", "director"),
    ("diretor", "director"),
    ("direttrice", "director"),
    ("direttore", "director"),
    ("gerente", "manager"),
    ("responsabile", "manager"),
    ("ingeniera", "engineer"),
    ("ingeniero", "engineer"),
    ("engenheira", "engineer"),
    ("engenheiro", "engineer"),
    ("ingegnere", "engineer"),
    ("desarrolladora", "developer"),
    ("desarrollador", "developer"),
    ("desenvolvedora", "developer"),
    ("desenvolvedor", "developer"),
    ("sviluppatore", "developer"),
    ("becaria", "intern"),
    ("becario", "intern"),
    ("practicante", "intern"),
    ("estagiaria", "intern"),
    ("estagiario", "intern"),
    ("stagista", "intern"),
    ("fundadora", "founder"),
    ("fundador", "founder"),
    ("cofundadora", "co founder"),
    ("cofundador", "co founder"),
    ("fondatore", "founder"),
    ("socia", "partner"),
    ("socio", "partner"),
    ("ventas", "sales"),
    ("vendas", "sales"),
    ("vendite", "sales"),
    ("comercial", "sales"),
    ("finanzas", "finance"),
    ("financas", "finance"),
    ("finanza", "finance"),
    ("contador", "accountant"),
    ("contadora", "accountant"),
    ("abogado", "attorney"),
    ("abogada", "attorney"),
    ("tecnologia", "technology"),
    ("tecnico", "technical"),
    ("operaciones", "operations"),
    ("engenharia", "engineering"),
    ("ingenieria", "engineering"),
    ("ingegneria", "engineering"),
    ("operacoes", "operations"),
    ("de", ""),
    ("del", ""),
    ("des", ""),
    ("du", ""),
    ("da", ""),
    ("do", ""),
    ("di", ""),
    ("della", ""),
    ("la", ""),
    ("le", ""),
    # Dutch
    ("algemeen directeur", "chief executive officer"),
    ("verkoop", "sales"),
    ("stagiair", "intern"),
    ("oprichter", "founder"),
    ("medeoprichter", "co founder"),
    # English abbreviations
    ("svp", "senior vice president"),
    ("evp", "executive vice president"),
    ("avp", "assistant vice president"),
    ("vp", "vice president"),
    ("v p", "vice president"),
    ("sr", "senior"),
    ("snr", "senior"),
    ("jr", "junior"),
    ("mgr", "manager"),
    ("mngr", "manager"),
    ("dir", "director"),
    ("eng", "engineer"),
    ("engr", "engineer"),
    ("swe", "software engineer"),
    ("sde", "software engineer"),
    ("mktg", "marketing"),
    ("mkt", "marketing"),
    ("bizdev", "business development"),
    ("bd", "business development"),
    ("sdr", "sales development representative"),
    ("bdr", "business development representative"),
    ("ae", "account executive"),
    ("hr", "human resources"),
    ("ops", "operations"),
    ("cs", "customer success"),
    ("ux", "user experience"),
    ("ui", "user interface"),
    ("qa", "quality assurance"),
    ("md", "managing director"),
    ("gm", "general manager"),
    ("ceo", "chief executive officer"),
    ("cto", "chief technology officer"),
    ("cfo", "chief financial officer"),
    ("coo", "chief operating officer"),
    ("cmo", "chief marketing officer"),
    ("cio", "chief information officer"),
    ("ciso", "chief information security officer"),
    ("cso", "chief security officer"),
    ("cro", "chief revenue officer"),
    ("cpo", "chief product officer"),
    ("chro", "chief human resources officer"),
    ("cdo", "chief data officer"),
    ("clo", "chief legal officer"),
    ("cco", "chief customer officer"),
    ("founding", "founder"),
    ("cofounder", "co founder"),
    ("owner", "founder"),
    ("proprietor", "founder"),
)

# English phrase → seniority (checked as whole words on the rewritten title).
_SENIORITY_PHRASES: tuple[tuple[str, str], ...] = (
    ("chief", Seniority.C_LEVEL),
    ("president", Seniority.C_LEVEL),  # after "vice president" is read as VP below
    ("founder", Seniority.FOUNDER),
    ("partner", Seniority.PARTNER),
    ("vice president", Seniority.VP),
    ("head", Seniority.HEAD),
    ("managing director", Seniority.C_LEVEL),
    ("general manager", Seniority.DIRECTOR),
    ("director", Seniority.DIRECTOR),
    ("lead", Seniority.MANAGER),
    ("manager", Seniority.MANAGER),
    ("supervisor", Seniority.MANAGER),
    ("team lead", Seniority.MANAGER),
    ("intern", Seniority.INTERN),
    ("trainee", Seniority.INTERN),
    ("apprentice", Seniority.INTERN),
    ("senior", Seniority.SENIOR),
    ("principal", Seniority.SENIOR),
    ("staff", Seniority.SENIOR),
)

# English phrase → department; the first match in a role wins, so specific phrases come first.
_DEPARTMENT_PHRASES: tuple[tuple[str, str], ...] = (
    ("executive assistant", "operations"),
    ("chief executive officer", "executive"),
    ("chief technology officer", "engineering"),
    ("chief financial officer", "finance"),
    ("chief operating officer", "operations"),
    ("chief marketing officer", "marketing"),
    ("chief information security officer", "security"),
    ("chief information officer", "it"),
    ("chief security officer", "security"),
    ("chief revenue officer", "sales"),
    ("chief product officer", "product"),
    ("chief human resources officer", "human_resources"),
    ("chief people officer", "human_resources"),
    ("chief data officer", "data"),
    ("chief legal officer", "legal"),
    ("chief customer officer", "customer_success"),
    ("managing director", "executive"),
    ("general manager", "executive"),
    ("it support", "it"),
    ("designer", "design"),
    ("customer success", "customer_success"),
    ("customer support", "customer_success"),
    ("customer service", "customer_success"),
    ("customer experience", "customer_success"),
    ("client services", "customer_success"),
    ("support", "customer_success"),
    ("account executive", "sales"),
    ("account manager", "sales"),
    ("business development", "sales"),
    ("sales development", "sales"),
    ("sales", "sales"),
    ("revenue", "sales"),
    ("partnerships", "sales"),
    ("growth", "marketing"),
    ("marketing", "marketing"),
    ("brand", "marketing"),
    ("communications", "marketing"),
    ("content", "marketing"),
    ("seo", "marketing"),
    ("demand generation", "marketing"),
    ("public relations", "marketing"),
    ("product manager", "product"),
    ("product owner", "product"),
    ("product", "product"),
    ("user experience", "design"),
    ("user interface", "design"),
    ("designer", "design"),
    ("design", "design"),
    ("creative", "design"),
    ("data scientist", "data"),
    ("data engineer", "data"),
    ("data analyst", "data"),
    ("machine learning", "data"),
    ("analytics", "data"),
    ("data", "data"),
    ("information security", "security"),
    ("security", "security"),
    ("information technology", "it"),
    ("it", "it"),
    ("system administrator", "it"),
    ("systems administrator", "it"),
    ("helpdesk", "it"),
    ("software", "engineering"),
    ("engineer", "engineering"),
    ("engineering", "engineering"),
    ("developer", "engineering"),
    ("devops", "engineering"),
    ("architect", "engineering"),
    ("programmer", "engineering"),
    ("quality assurance", "engineering"),
    ("technology", "engineering"),
    ("technical", "engineering"),
    ("frontend", "engineering"),
    ("backend", "engineering"),
    ("full stack", "engineering"),
    ("fullstack", "engineering"),
    ("human resources", "human_resources"),
    ("people", "human_resources"),
    ("talent", "human_resources"),
    ("recruiter", "human_resources"),
    ("recruiting", "human_resources"),
    ("recruitment", "human_resources"),
    ("finance", "finance"),
    ("financial", "finance"),
    ("accountant", "finance"),
    ("accounting", "finance"),
    ("controller", "finance"),
    ("treasury", "finance"),
    ("bookkeeper", "finance"),
    ("legal counsel", "legal"),
    ("general counsel", "legal"),
    ("counsel", "legal"),
    ("legal", "legal"),
    ("attorney", "legal"),
    ("lawyer", "legal"),
    ("compliance", "legal"),
    ("operations", "operations"),
    ("supply chain", "operations"),
    ("logistics", "operations"),
    ("procurement", "operations"),
    ("purchasing", "operations"),
    ("project manager", "operations"),
    ("office manager", "operations"),
    ("founder", "executive"),
    ("president", "executive"),
    ("partner", "executive"),
)

# Separators between the roles of one title ("CTO & Co-founder", "Founder / CEO").
_ROLE_SPLIT = re.compile(r"\s*(?:&|/|\||\+|,|;| and | und | et | y | e )\s*")
_NON_WORD = re.compile(r"[^a-z0-9&/|+,;]+")
_C_LEVEL_SHORT = {
    "chief executive officer": "CEO",
    "chief technology officer": "CTO",
    "chief financial officer": "CFO",
    "chief operating officer": "COO",
    "chief marketing officer": "CMO",
    "chief information officer": "CIO",
    "chief information security officer": "CISO",
    "chief security officer": "CSO",
    "chief revenue officer": "CRO",
    "chief product officer": "CPO",
    "chief human resources officer": "CHRO",
    "chief data officer": "CDO",
    "chief legal officer": "CLO",
    "chief customer officer": "CCO",
}


@dataclass(frozen=True)
class NormalizedTitle:
    title: str  # canonical English title
    seniority: str
    department: str

    def as_value(self) -> dict[str, str]:
        return {"title": self.title, "seniority": self.seniority, "department": self.department}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).replace("ß", "ss")
    # Hyphens join words ("Vice-Président", "Co-founder"): read them as spaces.
    return _NON_WORD.sub(" ", plain.replace("-", " ")).strip()


def _has(text: str, phrase: str) -> bool:
    return f" {phrase} " in f" {text} "


# The rewrites as one pass: whole words only, the longest phrase first at each position
# (so "directeur general" wins over "directeur"); a phrase listed twice keeps its first target.
_REWRITE_TARGETS: dict[str, str] = {}
for _source, _target in _REWRITES:
    _REWRITE_TARGETS.setdefault(_source, _target)
_REWRITE = re.compile(
    r"(?<![a-z0-9])(?:"
    + "|".join(re.escape(s) for s in sorted(_REWRITE_TARGETS, key=len, reverse=True))
    + r")(?![a-z0-9])"
)


def _rewrite(role: str) -> str:
    return " ".join(_REWRITE.sub(lambda m: _REWRITE_TARGETS[m.group(0)], role).split())


def _seniority_of(role: str) -> str | None:
    if _has(role, "assistant to") or _has(role, "executive assistant"):
        return Seniority.IC
    if _has(role, "vice president"):
        return Seniority.VP
    if _has(role, "managing director"):
        return Seniority.C_LEVEL
    found = [level for phrase, level in _SENIORITY_PHRASES if _has(role, phrase)]
    for level in _SENIORITY_ORDER:
        if level in found:
            return level
    return None


def _department_of(role: str) -> str | None:
    # A vice president is not the president: the rank says nothing of the department.
    role = role.replace("vice president", " ")
    for phrase, department in _DEPARTMENT_PHRASES:
        if _has(role, phrase):
            return department
    return None


def _canonical(role: str, seniority: str, department: str) -> str:
    for long_form, short in _C_LEVEL_SHORT.items():
        if seniority == Seniority.C_LEVEL and _has(role, long_form):
            return short
    label = DEPARTMENT_LABELS.get(department, "")
    if seniority == Seniority.VP and label:
        return f"VP of {label}"
    if seniority == Seniority.HEAD and label:
        return f"Head of {label}"
    if seniority == Seniority.DIRECTOR and label and department != "executive":
        return f"Director of {label}"
    if seniority == Seniority.MANAGER and label and not _has(role, "manager"):
        return f"{label} Manager"
    if seniority == Seniority.INTERN and label:
        return f"{label} Intern"
    return " ".join(word.upper() if word in {"it", "qa"} else word.title() for word in role.split())


def normalize_title(raw: str) -> NormalizedTitle | None:
    """None when the text holds no title (blank or only punctuation)."""
    folded = _fold(raw or "")
    if not folded:
        return None
    roles = [_rewrite(part) for part in _ROLE_SPLIT.split(f" {folded} ") if part.strip()]
    roles = [role for role in roles if role]
    if not roles:
        return None
    ranked = []
    for position, role in enumerate(roles):
        seniority = _seniority_of(role) or Seniority.IC
        rank = (
            _SENIORITY_ORDER.index(seniority)
            if seniority in _SENIORITY_ORDER
            else len(_SENIORITY_ORDER)
        )
        ranked.append((rank, position, role, seniority))
    _, _, role, seniority = min(ranked)
    department = _department_of(role)
    if department is None:
        # "Head of Growth & Marketing": the department may sit in another part of the title.
        department = next((d for r in roles if (d := _department_of(r))), "other")
    return NormalizedTitle(
        title=_canonical(role, seniority, department), seniority=seniority, department=department
    )
