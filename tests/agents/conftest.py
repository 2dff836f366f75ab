import pytest
from cleanlist_ai import Cleanlist
from cleanlist_ai.models import EstimateCostRequest

from credits.services import credits_grant
from leads.models import ListMembership
from tests.factories import ApiKeyFactory
from tests.leads.factories import LeadFactory, LeadListFactory

# Shared worker fixtures (tests/workers.py), re-exported for this package.
from tests.workers import (  # noqa: F401
    session_worker,
    sole_consumer,
    worker,
)

# Real-world titles for a list, and one lead with none (nothing to normalise).
TITLES = [
    "VP Sales", "Vice-Président, Ventes", "Head of Growth", "CTO & Co-founder",
    "Senior Software Engineer", "Marketing Intern", "Geschäftsführer", "Gerente de Marketing",
]  # fmt: skip


@pytest.fixture
def funded(workspace):
    credits_grant(workspace=workspace, amount=100_000, reason="test", reference="agents-t")
    return workspace


def titled_list(workspace, titles=TITLES, *, blanks: int = 1):
    lead_list = LeadListFactory(workspace=workspace)
    leads = [LeadFactory(workspace=workspace, title=title) for title in titles]
    leads += [LeadFactory(workspace=workspace, title="") for _ in range(blanks)]
    ListMembership.objects.bulk_create(
        ListMembership(lead_list=lead_list, lead=lead) for lead in leads
    )
    return lead_list


@pytest.fixture
def sdk(live_server, funded, worker):  # noqa: F811 - the shared fixture
    api_key = ApiKeyFactory(workspace=funded)
    with Cleanlist(access_token=api_key.raw_key, host=live_server.url) as client:
        yield client


def estimate(sdk, lead_list, agent_type, column, row_count=None):
    return sdk.workspace.credits_estimate(
        EstimateCostRequest(
            tool="run_smart_agent", list_id=str(lead_list.pk), agent_type=agent_type,
            row_count=row_count, extra={"column_name": column},
        )
    )  # fmt: skip
