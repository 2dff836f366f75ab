"""Who a person is: `leads.canonical.person_identify`, and the three places that use it (the
importer, the person resolution, the provider cache key) agreeing on it."""

import uuid

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from common.exceptions import NotFound, ValidationFailed
from leads import canonical
from leads.canonical import IdentityProblem
from leads.columns import clean_cell
from leads.imports import leads_import_rows
from leads.imports.readers import RowError, SourceRow
from leads.models import Lead
from leads.services import lead_resolve_person
from providers.base import PersonInput
from tests.factories import WorkspaceFactory
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db

# --- person_identify --------------------------------------------------------------------------


def test_identity_prefers_linkedin_then_email_then_name_and_company():
    full = {
        "linkedin_url": "linkedin.com/in/Jane-Roe/",
        "email": "Jane@Acme.com",
        "first_name": "Jane",
        "last_name": "Roe",
        "domain": "acme.com",
    }
    assert canonical.person_identify(**full).key == "li:jane-roe"
    assert canonical.person_identify(**{**full, "linkedin_url": None}).key == "em:jane@acme.com"
    no_ids = {**full, "linkedin_url": None, "email": None}
    assert canonical.person_identify(**no_ids).key == "nd:jane roe@acme.com"


def test_identity_company_name_is_the_fallback_when_there_is_no_domain():
    by_name = canonical.person_identify(
        first_name="José ", last_name="Núñez", company_name="  Acme   GmbH"
    )
    assert by_name.key == "nd:jose nunez@acme gmbh"
    assert by_name.company_name == "Acme GmbH"
    same = canonical.person_identify(first_name="JOSE", last_name="nunez", company_name="ACME GMBH")
    assert same.key == by_name.key
    # a domain wins over the name; a domain that is not one counts as absent
    with_domain = canonical.person_identify(
        first_name="Jose", last_name="Nunez", company_name="Acme GmbH", domain="www.Acme.de"
    )
    assert with_domain.key == "nd:jose nunez@acme.de"
    bad_domain = canonical.person_identify(
        first_name="Jose", last_name="Nunez", company_name="Acme GmbH", domain="not a domain"
    )
    assert (bad_domain.key, bad_domain.domain) == (by_name.key, None)


def test_identity_splits_a_full_name_only_when_no_first_or_last_name_is_given():
    split = canonical.person_identify(full_name="Ada  King Lovelace", domain="engines.example")
    assert (split.first_name, split.last_name, split.full_name) == (
        "Ada",
        "King Lovelace",
        "Ada King Lovelace",
    )
    assert split.key == "nd:ada king lovelace@engines.example"
    kept = canonical.person_identify(
        first_name="Ada", full_name="Ada Lovelace", domain="engines.example"
    )
    assert (kept.first_name, kept.last_name, kept.key) == ("Ada", "", None)
    joined = canonical.person_identify(first_name="Ada", last_name="Lovelace")
    assert joined.full_name == "Ada Lovelace"


def test_identity_reports_every_invalid_identifier_and_gives_no_key():
    bad = canonical.person_identify(
        linkedin_url="https://www.linkedin.com/company/acme",
        email="not-an-email",
        first_name="Jane",
        last_name="Roe",
        domain="acme.com",
    )
    assert bad.problems == (IdentityProblem.INVALID_LINKEDIN_URL, IdentityProblem.INVALID_EMAIL)
    assert bad.key is None
    # an invalid identifier is never skipped for a weaker one
    email_only = canonical.person_identify(
        email="nope", first_name="J", last_name="R", domain="a.io"
    )
    assert (email_only.problems, email_only.key) == ((IdentityProblem.INVALID_EMAIL,), None)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"first_name": "Jane", "last_name": "Roe"},
        {"first_name": "Jane", "company_name": "Acme"},
        {"full_name": "Jane", "domain": "acme.com"},
        {"first_name": "Jane", "last_name": "Roe", "domain": "acme"},
    ],
)
def test_identity_without_an_identifier_is_a_problem(fields):
    identity = canonical.person_identify(**fields)
    assert (identity.key, identity.problems) == (None, (IdentityProblem.NO_IDENTIFIER,))


def test_identity_provider_cache_key_is_the_leads():
    person = PersonInput(first_name="Jane", last_name="Roe", company_name="Acme GmbH")
    assert person.identity() == "nd:jane roe@acme gmbh"
    assert PersonInput(full_name="Jane Roe", domain="ACME.com").identity() == (
        "nd:jane roe@acme.com"
    )
    assert PersonInput(company_name="Acme").identity() == ""


# --- lead_resolve_person ----------------------------------------------------------------------


def test_lead_resolve_person_creates_then_finds_and_fills_without_overwriting(workspace):
    lead = lead_resolve_person(
        workspace=workspace,
        person={"first_name": "Jane", "last_name": "Roe", "company_name": "Acme", "phone": None},
    )
    assert (lead.identity_key, lead.full_name, lead.domain) == ("nd:jane roe@acme", "Jane Roe", "")
    again = lead_resolve_person(
        workspace=workspace,
        person={
            "first_name": "JANE",
            "last_name": "roe",
            "company_name": "acme",
            "phone": "+1 415 555 0132",
        },
    )
    assert again.pk == lead.pk
    again.refresh_from_db()
    assert (again.first_name, again.company_name, again.phone) == ("Jane", "Acme", "+14155550132")


def test_lead_resolve_person_by_email_takes_the_domain_from_it(workspace):
    lead = lead_resolve_person(workspace=workspace, person={"email": "Jo@Acme.example"})
    assert (lead.identity_key, lead.email, lead.domain) == (
        "em:jo@acme.example",
        "jo@acme.example",
        "acme.example",
    )


def test_lead_resolve_person_by_person_id(workspace, other_workspace):
    lead = LeadFactory(workspace=workspace)
    assert lead_resolve_person(workspace=workspace, person={"person_id": str(lead.pk)}) == lead
    for person_id in (str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(NotFound):
            lead_resolve_person(workspace=workspace, person={"person_id": person_id})
    with pytest.raises(NotFound):
        lead_resolve_person(workspace=other_workspace, person={"person_id": str(lead.pk)})


def test_lead_resolve_person_errors(workspace):
    with pytest.raises(ValidationFailed) as invalid:
        lead_resolve_person(
            workspace=workspace,
            person={"linkedin_url": "linkedin.com/company/acme", "email": "nope"},
        )
    assert invalid.value.details == {
        "linkedin_url": ["Not a LinkedIn profile URL."],
        "email": ["Not a valid email address."],
    }
    with pytest.raises(ValidationFailed) as missing:
        lead_resolve_person(workspace=workspace, person={"first_name": "Jane", "domain": None})
    assert missing.value.details == {"non_field_errors": ["No identifier for this person."]}
    assert not Lead.objects.filter(workspace=workspace).exists()


# --- The importer and the person resolution agree ---------------------------------------------

# Import cells that mean "no value" in identifier columns; the person API has no such notion
# (there `n/a` is an invalid email), so they are left out of the shared inputs.
_PLACEHOLDERS = {"n/a", "na", "none", "null", "nil", "-", "--", "?", "unknown"}

_letters = st.characters(
    categories=("Lu", "Ll", "Lt", "Lo", "Mn", "Zs"), exclude_characters="\x00"
) | st.sampled_from("-'. ")
_names = st.text(_letters, min_size=1, max_size=12)
_slugs = st.text("abcdefghij0123456789-", min_size=1, max_size=10).filter(lambda s: s.strip("-"))
_hosts = st.sampled_from(["acme.com", "ACME.com", "engines.example", "x.io", "acme"])


def _maybe(values: st.SearchStrategy[str], *, percent: int) -> st.SearchStrategy[str]:
    """Present `percent` of the time, else empty, so every kind of identity comes up."""
    return st.integers(1, 100).flatmap(lambda n: values if n <= percent else st.just(""))


# Junk in an identifier column, but not a placeholder (those differ on purpose, see above).
_junk = _names.map(clean_cell).filter(lambda v: v.casefold() not in _PLACEHOLDERS)
_linkedins = _maybe(
    st.one_of(
        _slugs.map(lambda s: f"linkedin.com/in/{s}"),
        _slugs.map(lambda s: f"https://WWW.LinkedIn.com/in/{s}/?trk=x"),
        _slugs.map(lambda s: f"https://www.linkedin.com/company/{s}"),
        _junk,
    ),
    percent=30,
)
_emails = _maybe(
    st.one_of(
        st.builds(lambda local, host: f"{local}@{host}", _slugs, _hosts),
        st.builds(lambda local, host: f"mailto:{local.upper()}@{host}", _slugs, _hosts),
        _junk,
    ),
    percent=30,
)
_domains = _maybe(
    st.one_of(_hosts, _hosts.map(lambda h: f"https://www.{h}/about"), _names), percent=50
)
_name_cells = _maybe(_names, percent=75)


_people = st.fixed_dictionaries(
    {
        "linkedin_url": _linkedins.map(clean_cell),
        "email": _emails.map(clean_cell),
        "first_name": _name_cells.map(clean_cell),
        "last_name": _name_cells.map(clean_cell),
        "full_name": _name_cells.map(clean_cell),
        "company_name": _name_cells.map(clean_cell),
        "domain": _domains.map(clean_cell),
    }
)


def _resolve(workspace, person: dict[str, str]) -> Lead | str:
    """The person API's answer: the lead, or the import's reason for the same refusal."""
    try:
        return lead_resolve_person(workspace=workspace, person=person)
    except ValidationFailed as exc:
        if "linkedin_url" in exc.details:
            return "invalid_linkedin_url"
        if "email" in exc.details:
            return "invalid_email"
        return "missing_identity"


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(person=_people)
def test_identity_import_row_and_person_resolution_agree(db, person):
    # given a workspace where this person was imported from a spreadsheet row
    workspace = WorkspaceFactory()
    lead_list = LeadListFactory(workspace=workspace)
    errors: list[RowError] = []
    result = leads_import_rows(
        workspace=workspace,
        lead_list=lead_list,
        rows=[SourceRow(row=2, fields=dict(person), extra={})],
        read_errors=errors,
    )
    imported = Lead.objects.filter(workspace=workspace).first()
    # when the person API is asked for the same person
    resolved = _resolve(workspace, {k: v or None for k, v in person.items()})
    # then both accept or both refuse for the same reason, and they mean the same lead
    if imported is None:
        event(f"refused: {resolved}")
        assert [e.reason for e in result.errors] == [resolved]
        return
    event(f"identified by {imported.identity_key[:2]}")
    assert isinstance(resolved, Lead), resolved
    assert (resolved.pk, resolved.identity_key) == (imported.pk, imported.identity_key)
    assert Lead.objects.filter(workspace=workspace).count() == 1
    # and the provider cache keys the lead by that same identity
    assert (
        PersonInput(
            first_name=resolved.first_name,
            last_name=resolved.last_name,
            full_name=resolved.full_name,
            company_name=resolved.company_name,
            domain=resolved.domain,
            linkedin_url=resolved.linkedin_url,
            email=resolved.email,
        ).identity()
        == resolved.identity_key
    )


@settings(max_examples=400, deadline=None)
@given(person=_people)
def test_person_key_is_person_identifys_key(person):
    # The provider cache's key (PersonInput.identity) skips the canonical values it does not
    # use; it must be the very key person_identify gives, problems (no key) included.
    assert canonical.person_key(**person) == canonical.person_identify(**person).key


@pytest.mark.parametrize(
    "fields",
    [
        {"linkedin_url": "linkedin.com/in/Jane-Roe/", "email": "not-an-email", "last_name": "R"},
        {"linkedin_url": "https://www.linkedin.com/company/acme", "email": "jane@acme.com"},
        {"email": "Jane@Acme.com", "first_name": "Jane", "last_name": "Roe", "domain": "x.io"},
        {"email": "", "linkedin_url": "", "full_name": "Ada King", "domain": "www.Engines.example"},
        {"first_name": "José", "last_name": "Núñez", "company_name": "  Acme   GmbH"},
        {"first_name": "Jane", "company_name": "Acme"},
    ],
)
def test_person_key_agrees_on_each_rule(fields):
    assert canonical.person_key(**fields) == canonical.person_identify(**fields).key
