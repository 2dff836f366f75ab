"""The official Cleanlist SDK parses our credits responses (a real HTTP server, real client)."""

import pytest
from cleanlist_ai import Cleanlist
from cleanlist_ai.models import EstimateCostRequest

from tests.credits.factories import grant, place
from tests.factories import ApiKeyFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk(live_server):
    workspace = WorkspaceFactory()
    api_key = ApiKeyFactory(workspace=workspace)
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as client:
        client.workspace_under_test = workspace
        yield client


def test_sdk_credits_balance_parses(sdk):
    workspace = sdk.workspace_under_test
    grant(workspace, 30)
    place(workspace, 11)
    balance = sdk.workspace.credits_balance()
    assert balance.organization_id == str(workspace.id)
    assert balance.credits == 19


def test_sdk_credits_estimate_parses(sdk):
    grant(sdk.workspace_under_test, 5)
    estimate = sdk.workspace.credits_estimate(
        EstimateCostRequest(tool="enrich_person", scope="phone-only")
    )
    assert estimate.quote_id.startswith("qte_")
    assert (estimate.estimated_cost, estimate.row_count, estimate.tool) == (10, 1, "enrich_person")
    assert (estimate.available_credits, estimate.sufficient) == (5, False)
    assert estimate.filter_hash == "none"
    assert estimate.additional_properties["to_enrich"] == 1
