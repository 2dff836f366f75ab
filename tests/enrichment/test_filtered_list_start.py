"""A run over the members of a list that match a people-search filter."""

import pytest

from common.exceptions import EmptyLeadScope, NotFound
from credits.prices import EnrichmentType
from enrichment.models import Workflow
from enrichment.results import Preview, Started
from enrichment.services.start import filtered_list_enrichment_start
from leads.models import ListMembership
from tests.leads.factories import LeadFactory, LeadListFactory

pytestmark = pytest.mark.django_db


def test_filtered_list_start_enriches_only_members_matching_the_filter(funded, other_workspace):
    # given a list with two CTOs (one already holding an email) and a sales rep, and a CTO
    # outside the list
    lead_list = LeadListFactory(workspace=funded)
    cto = LeadFactory(workspace=funded, title="CTO", email=None)
    known_cto = LeadFactory(workspace=funded, title="cto", email="known@example.com")
    rep = LeadFactory(workspace=funded, title="Sales rep")
    LeadFactory(workspace=funded, title="CTO")
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=lead) for lead in (cto, known_cto, rep)
    )

    # when previewed, then started, with skip_existing
    arguments = {
        "workspace": funded,
        "list_id": str(lead_list.pk),
        "filters": {"title": "CTO"},
        "enrichment_type": EnrichmentType.PARTIAL,
        "output": Workflow.Output.SKIP_EXISTING,
    }
    preview = filtered_list_enrichment_start(**arguments, preview=True)
    started = filtered_list_enrichment_start(**arguments)

    # then the scope is the list's two CTOs, and only the one lacking an email is looked up
    assert isinstance(preview, Preview)
    assert (preview.plan.total, preview.plan.to_enrich) == (2, 1)
    assert isinstance(started, Started)
    assert started.workflow.entity_ids == [str(cto.pk)]
    assert started.workflow.lead_list_id == lead_list.pk
    assert ListMembership.objects.filter(lead_list=lead_list).count() == 3


def test_filtered_list_start_refuses_no_match_and_another_workspace_list(funded, other_workspace):
    lead_list = LeadListFactory(workspace=funded, lead_count=2)
    theirs = LeadListFactory(workspace=other_workspace, lead_count=1)

    with pytest.raises(EmptyLeadScope):
        filtered_list_enrichment_start(
            workspace=funded,
            list_id=str(lead_list.pk),
            filters={"title": "no such title anywhere"},
            enrichment_type=EnrichmentType.FULL,
        )
    with pytest.raises(NotFound):
        filtered_list_enrichment_start(
            workspace=funded,
            list_id=str(theirs.pk),
            filters={},
            enrichment_type=EnrichmentType.FULL,
        )
    assert not Workflow.objects.exists()
