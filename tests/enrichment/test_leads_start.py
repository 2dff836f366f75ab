"""A run over leads named by id (the vendor dialects' explicit scopes): what it counts, what it
leaves out, and that a refused start writes nothing."""

import uuid

import pytest

from common.exceptions import EmptyLeadScope, InsufficientCredits, ValidationFailed
from credits.prices import EnrichmentType
from credits.services import credits_grant
from enrichment.models import Workflow
from enrichment.results import Preview, Started
from enrichment.services.start import MCP_RESULTS_LIST, leads_enrichment_start
from leads.models import LeadList, ListMembership
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_leads_start_skip_existing_counts_every_lead_and_enriches_those_lacking(funded):
    # given two leads, one of which already has an email
    lacking = LeadFactory(workspace=funded, email=None)
    holding = LeadFactory(workspace=funded, email="known@example.com")
    ids = [str(lacking.pk), str(holding.pk)]

    # when previewed, then started
    preview = leads_enrichment_start(
        workspace=funded,
        lead_ids=ids,
        enrichment_type=EnrichmentType.PARTIAL,
        output=Workflow.Output.SKIP_EXISTING,
        preview=True,
    )
    started = leads_enrichment_start(
        workspace=funded,
        lead_ids=ids,
        enrichment_type=EnrichmentType.PARTIAL,
        output=Workflow.Output.SKIP_EXISTING,
    )

    # then both count the two leads and enrich only the one lacking an email
    assert isinstance(preview, Preview)
    assert isinstance(started, Started)
    assert (preview.plan.total, preview.plan.already_enriched, preview.plan.to_enrich) == (2, 1, 1)
    workflow = started.workflow
    assert (workflow.total, workflow.skipped_existing, workflow.credits_reserved) == (1, 1, 1)
    assert workflow.entity_ids == [str(lacking.pk)]
    assert workflow.lead_list.name == MCP_RESULTS_LIST
    assert ListMembership.objects.filter(lead_list=workflow.lead_list).count() == 2


def test_leads_start_leaves_out_other_workspaces_leads_and_refuses_malformed_ids(
    funded, other_workspace
):
    theirs = LeadFactory(workspace=other_workspace)

    with pytest.raises(EmptyLeadScope):
        leads_enrichment_start(
            workspace=funded, lead_ids=[str(theirs.pk)], enrichment_type=EnrichmentType.FULL
        )
    with pytest.raises(ValidationFailed):
        leads_enrichment_start(
            workspace=funded, lead_ids=["not-a-uuid"], enrichment_type=EnrichmentType.FULL
        )
    assert not Workflow.objects.exists()


def test_leads_start_refused_for_credits_writes_nothing(workspace):
    # given a workspace with 5 credits and a lead whose phone would cost 10
    credits_grant(workspace=workspace, amount=5, reason="test", reference=f"t-{uuid.uuid4()}")
    lead = LeadFactory(workspace=workspace)

    # when the start is refused
    with pytest.raises(InsufficientCredits):
        leads_enrichment_start(
            workspace=workspace, lead_ids=[str(lead.pk)], enrichment_type=EnrichmentType.PHONE_ONLY
        )

    # then no list, membership or workflow was written
    assert not LeadList.objects.filter(workspace=workspace).exists()
    assert not Workflow.objects.exists()
