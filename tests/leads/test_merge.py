"""Fill what is empty, never overwrite (leads.merge), and every path that meets a known lead
again applying it the same way."""

import io
from types import SimpleNamespace

import pytest

from leads.imports import leads_import_file
from leads.imports.writers import OrmWriter, PostgresCopyWriter
from leads.merge import fill_empty, fill_extra
from leads.models import Lead
from leads.services import lead_resolve_person
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


def test_merge_fill_empty_sets_only_empty_fields_and_reports_them():
    target = SimpleNamespace(title="CTO", company_name="", email=None, phone=None)
    filled = fill_empty(
        target, {"title": "CEO", "company_name": "Acme", "email": "jo@acme.example", "phone": ""}
    )
    assert filled == {"company_name": "Acme", "email": "jo@acme.example"}
    assert (target.title, target.company_name, target.email, target.phone) == (
        "CTO",
        "Acme",
        "jo@acme.example",
        None,
    )
    assert fill_empty(target, {"title": "", "company_name": "Other"}) == {}


def test_merge_fill_extra_adds_new_keys_and_keeps_existing_ones():
    extra = {"score": "3"}
    assert fill_extra(extra, {"score": "9", "tier": "gold"}) is True
    assert extra == {"score": "3", "tier": "gold"}
    assert fill_extra(extra, {"tier": "silver"}) is False


def _known_lead(workspace) -> Lead:
    return LeadFactory(
        workspace=workspace,
        linkedin_url=None,
        email="jo@acme.example",
        first_name="Jo",
        last_name="",
        full_name="Jo",
        title="CTO",
        company_name="",
        domain="",
        phone=None,
        identity_key="em:jo@acme.example",
    )


@pytest.mark.parametrize(
    "meet_again",
    ["import_copy", "import_orm", "person_api"],
)
def test_merge_every_path_fills_a_known_lead_the_same_way(workspace, meet_again):
    lead = _known_lead(workspace)
    row = {
        "first_name": "Joanna",
        "last_name": "Lee",
        "company_name": "Acme",
        "domain": "acme.example",
        "email": "JO@acme.example",
        "phone": "+1 415 555 0132",
    }
    if meet_again == "person_api":
        lead_resolve_person(workspace=workspace, person=row)
    else:
        writer = PostgresCopyWriter if meet_again == "import_copy" else OrmWriter
        header, values = ",".join(row), ",".join(row.values())
        leads_import_file(
            workspace=workspace,
            lead_list=LeadListFactory(workspace=workspace),
            stream=io.BytesIO(f"{header},title\n{values},CEO\n".encode()),
            writer=writer,
        )
    lead.refresh_from_db()
    # held values stay, empty ones are filled
    assert (lead.first_name, lead.full_name, lead.title) == ("Jo", "Jo", "CTO")
    assert (lead.last_name, lead.company_name, lead.domain, lead.phone) == (
        "Lee",
        "Acme",
        "acme.example",
        "+14155550132",
    )
    assert Lead.objects.filter(workspace=workspace).count() == 1
