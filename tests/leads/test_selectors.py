import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import NotFound, ValidationFailed
from leads.models import Cohort, Lead, ListMembership
from leads.selectors import (
    cohort_enrichment_counts,
    cohort_get,
    lead_get,
    lead_list_find,
    lead_list_find_by_name,
    list_enrichment_counts,
)
from leads.services import cohort_create, cohort_purge_expired
from tests.leads.factories import CompanyFactory, LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def mixed_leads(workspace):
    """Five leads: email only, phone only, both, neither, and empty strings."""
    data = [
        ("a@x.com", None),
        (None, "+15550000001"),
        ("c@x.com", "+15550000002"),
        (None, None),
        ("", ""),
    ]
    leads = []
    for email, phone in data:
        lead = LeadFactory(workspace=workspace)
        Lead.objects.filter(pk=lead.pk).update(email=email, phone=phone)
        leads.append(lead)
    return leads


@pytest.mark.parametrize(
    ("enrichment_type", "holding"),
    [("partial", 2), ("phone_only", 2), ("phone-only", 2), ("full", 1), ("FULL", 1)],
)
def test_list_enrichment_counts_by_type(workspace, mixed_leads, enrichment_type, holding):
    lead_list = LeadListFactory(workspace=workspace)
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=lead) for lead in mixed_leads
    )
    counts = list_enrichment_counts(
        workspace=workspace, list_id=lead_list.id, enrichment_type=enrichment_type
    )
    assert counts == (5, holding)


def test_list_enrichment_counts_foreign_or_unknown_list_is_not_found(workspace, other_workspace):
    foreign = LeadListFactory(workspace=other_workspace, lead_count=1)
    for list_id in (foreign.id, uuid.uuid4(), "not-a-uuid"):
        with pytest.raises(NotFound):
            list_enrichment_counts(workspace=workspace, list_id=list_id, enrichment_type="full")


def test_cohort_create_sets_ttl_from_settings(workspace, settings):
    settings.SLUICE_COHORT_TTL_SECONDS = 60
    cohort = cohort_create(
        workspace=workspace, entity_kind="person", entity_ids=[uuid.uuid4()], source="test"
    )
    assert cohort.id.startswith("cl-task_")
    assert isinstance(cohort.entity_ids[0], str)
    remaining = (cohort.expires_at - timezone.now()).total_seconds()
    assert 55 < remaining <= 60


def test_cohort_get_expired_foreign_unknown_are_not_found(workspace, other_workspace):
    live = cohort_create(workspace=workspace, entity_kind="person", entity_ids=[], source="t")
    assert cohort_get(workspace=workspace, task_id=live.id) == live
    with pytest.raises(NotFound):
        cohort_get(workspace=other_workspace, task_id=live.id)
    with pytest.raises(NotFound):
        cohort_get(workspace=workspace, task_id="cl-task_nope")
    Cohort.objects.filter(pk=live.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotFound):
        cohort_get(workspace=workspace, task_id=live.id)
    # and the periodic purge removes it
    assert cohort_purge_expired() == 1
    assert not Cohort.objects.filter(pk=live.pk).exists()


def test_cohort_enrichment_counts_whole_and_subset(workspace, mixed_leads):
    cohort = cohort_create(
        workspace=workspace,
        entity_kind="person",
        entity_ids=[lead.id for lead in mixed_leads],
        source="t",
    )
    whole = cohort_enrichment_counts(
        workspace=workspace, task_id=cohort.id, entity_ids=None, enrichment_type="partial"
    )
    subset = cohort_enrichment_counts(
        workspace=workspace,
        task_id=cohort.id,
        entity_ids=[str(mixed_leads[2].id), str(mixed_leads[3].id), str(mixed_leads[2].id)],
        enrichment_type="full",
    )
    assert whole == (5, 2)
    assert subset == (2, 1)
    with pytest.raises(ValidationFailed):
        cohort_enrichment_counts(
            workspace=workspace,
            task_id=cohort.id,
            entity_ids=[str(uuid.uuid4())],
            enrichment_type="partial",
        )


def test_cohort_enrichment_counts_company_cohort_counts_enriched_companies(workspace):
    fresh = CompanyFactory(workspace=workspace)
    enriched = CompanyFactory(workspace=workspace, enriched_at=timezone.now())
    cohort = cohort_create(
        workspace=workspace, entity_kind="company", entity_ids=[fresh.id, enriched.id], source="t"
    )
    counts = cohort_enrichment_counts(
        workspace=workspace, task_id=cohort.id, entity_ids=None, enrichment_type="partial"
    )
    assert counts == (2, 1)


def test_cohort_enrichment_counts_foreign_cohort_is_not_found(workspace, other_workspace):
    cohort = cohort_create(
        workspace=other_workspace, entity_kind="person", entity_ids=[], source="t"
    )
    with pytest.raises(NotFound):
        cohort_enrichment_counts(
            workspace=workspace, task_id=cohort.id, entity_ids=None, enrichment_type="partial"
        )


def test_lead_list_find_by_name_folds_case_as_the_unique_constraint(workspace, other_workspace):
    ops = LeadListFactory(workspace=workspace, name="Ops Leads")
    assert lead_list_find_by_name(workspace=workspace, name="OPS leads") == ops
    assert lead_list_find_by_name(workspace=other_workspace, name="Ops Leads") is None
    # With a Turkish dotless i, UPPER() (`iexact`) makes the name "ILK" while lower() keeps the
    # two apart, and so does the constraint, which lets both names exist.
    dotless_name = "\u0131lk"
    dotless = LeadListFactory(workspace=workspace, name=dotless_name)
    assert lead_list_find_by_name(workspace=workspace, name="ILK") is None
    dotted = LeadListFactory(workspace=workspace, name="ILK")
    assert lead_list_find_by_name(workspace=workspace, name="ilk") == dotted
    assert lead_list_find_by_name(workspace=workspace, name=dotless_name) == dotless


def test_lead_list_find_by_id_or_case_insensitive_name(workspace):
    lead_list = LeadListFactory(workspace=workspace, name="Q3 Prospects")
    assert lead_list_find(workspace=workspace, ref=str(lead_list.pk)) == lead_list
    assert lead_list_find(workspace=workspace, ref="q3 prospects") == lead_list


def test_lead_list_find_foreign_or_unknown_is_not_found(workspace, other_workspace):
    foreign = LeadListFactory(workspace=other_workspace, name="Theirs")
    for ref in (str(foreign.pk), "Theirs", "nope", str(uuid.uuid4())):
        with pytest.raises(NotFound, match="No list with id or name"):
            lead_list_find(workspace=workspace, ref=ref)


def test_lead_get_by_id_and_foreign_unknown_or_malformed_is_not_found(workspace, other_workspace):
    mine = LeadFactory(workspace=workspace)
    theirs = LeadFactory(workspace=other_workspace)

    assert lead_get(workspace=workspace, lead_id=str(mine.pk)) == mine
    for lead_id in (str(theirs.pk), str(uuid.uuid4()), "not-a-uuid"):
        with pytest.raises(NotFound, match="Lead not found"):
            lead_get(workspace=workspace, lead_id=lead_id)
