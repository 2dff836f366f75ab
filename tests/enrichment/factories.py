"""Enrichment test data. Big lists are bulk-inserted: a factory call per lead would spend the
suite's time budget on Faker and single-row INSERTs."""

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections

from credits.services import quote_create
from enrichment.models import Workflow
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start
from enrichment.waterfall import person_input
from leads import canonical
from leads.models import Lead, LeadList, ListMembership
from providers.adapters.sandbox import SandboxProvider
from providers.base import EmailStatus, OutcomeKind
from tests.leads.factories import LeadListFactory
from tests.workers import SANDBOX_INSTANCES

# The sandbox of the workers the tests start (tests/workers.py SANDBOX_ENV): who it finds.
WORKERS_SANDBOX = SandboxProvider(name="sandbox", config=SANDBOX_INSTANCES["sandbox"])


def list_with_leads(workspace, count: int, *, emails_found: bool = False, **fields) -> LeadList:
    """A new list of `count` new leads identified by LinkedIn (extra `fields` on each lead).
    With `emails_found`, each one a lead whose email the workers' sandbox finds and verifies
    valid: for the tests that need found emails (or the calls a find costs) rather than the
    sandbox's hit rate, which leaves a few random leads with nothing found now and then."""
    lead_list = LeadListFactory(workspace=workspace)
    leads: list[Lead] = []
    while len(leads) < count:
        slug = uuid.uuid4().hex[:16]
        linkedin = f"https://www.linkedin.com/in/p-{slug}"
        lead = Lead(
            workspace=workspace,
            first_name="Pat",
            last_name=slug,
            full_name=f"Pat {slug}",
            company_name="Example",
            domain=f"{slug}.example.com",
            linkedin_url=linkedin,
            identity_key=canonical.person_identify(
                linkedin_url=linkedin,
                first_name="Pat",
                last_name=slug,
                domain=f"{slug}.example.com",
            ).key,
            **fields,
        )
        if not emails_found or _sandbox_finds_valid_email(lead):
            leads.append(lead)
    Lead.objects.bulk_create(leads, batch_size=2000)
    ListMembership.objects.bulk_create(
        [ListMembership(lead_list=lead_list, lead=lead) for lead in leads], batch_size=2000
    )
    return lead_list


def _sandbox_finds_valid_email(lead: Lead) -> bool:
    found = WORKERS_SANDBOX.find_email(person_input(lead))
    return (
        found.kind == OutcomeKind.FOUND
        and WORKERS_SANDBOX.verify_email(found.value).verdict == EmailStatus.VALID
    )


def list_quote(workspace, lead_list: LeadList, scope: str = "partial", output=None) -> str:
    params = {"list_id": str(lead_list.pk), "enrichment_type": scope}
    if output:
        params["output"] = output
    return quote_create(workspace=workspace, tool="enrich_list", params=params).quote.quote_id


def planned_run(
    workspace, leads: int, settings, *, chunk_size: int = 10, emails_found: bool = False
) -> Workflow:
    """A bulk run of `leads` new leads (email only) in chunks of `chunk_size`, planned (its
    items inserted, its chunk messages sent) but with no chunk run yet. `emails_found`: as
    list_with_leads's (the sandbox of the tests' processes is the workers')."""
    settings.SLUICE_CHUNK_SIZE = chunk_size
    lead_list = list_with_leads(workspace, leads, emails_found=emails_found)
    workflow = bulk_enrichment_start(
        workspace=workspace, list_id=lead_list.pk, enrichment_type="partial",
        output="skip_existing", quote_id=list_quote(workspace, lead_list),
    ).workflow  # fmt: skip
    execution.workflow_plan(workflow_id=workflow.pk)
    workflow.refresh_from_db()
    return workflow


@contextmanager
def planner_at_work(workflow_id: str) -> Iterator[None]:
    """A live planner of the run for the block: a thread holding its plan lock, on a
    connection of its own."""
    holding, release = threading.Event(), threading.Event()

    def plan() -> None:
        try:
            with execution._one_planner(workflow_id):
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=plan)
    thread.start()
    try:
        assert holding.wait(10)
        yield
    finally:
        release.set()
        thread.join(10)
