"""A workflow's life beyond the happy path: preview, money guards (quotes, credits, caps),
dispatch failure and lost enqueues, cancel, deadline and concurrent sweepers."""

import threading
from contextlib import contextmanager
from datetime import timedelta

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from config.celery import app
from credits.models import Hold, LedgerEntry, Quote
from credits.selectors import balance_get
from enrichment.models import ItemStatus, Workflow, WorkflowItem, WorkflowStatus
from enrichment.services import execution, start
from leads.models import Lead, ListMembership
from leads.services import cohort_create
from tests.enrichment.conftest import (
    SANDBOX_ENV,
    assert_ledger_consistent,
    assert_settled,
    sweep_until_terminal,
    wait_terminal,
)
from tests.enrichment.factories import list_quote, list_with_leads
from tests.helpers import assert_error, wait_until
from tests.leads.factories import LeadListFactory
from tests.workers import WorkerProcess

PERSON = {"linkedin_url": "https://www.linkedin.com/in/katherine-johnson"}


def _bulk(api, lead_list, **extra):
    return api.post(
        "/api/v2/enrichment/bulk", {"list_id": str(lead_list.pk), **extra}, format="json"
    )


def _nothing_started(workspace, before) -> None:
    assert not Workflow.objects.filter(workspace=workspace).exists()
    assert not Hold.objects.filter(workspace=workspace).exists()
    assert balance_get(workspace=workspace) == before


# --- Preview ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_preview_person_bulk_and_task_create_nothing(api, funded):
    lead_list = list_with_leads(funded, 4)
    Lead.objects.filter(pk=lead_list.memberships.first().lead_id).update(email="a@b.example")
    cohort = cohort_create(
        workspace=funded,
        entity_kind="person",
        entity_ids=[str(m.lead_id) for m in lead_list.memberships.all()],
        source="search_people",
    )
    leads_before, before = Lead.objects.count(), balance_get(workspace=funded)

    person = api.post(
        "/api/v2/enrichment/person?mode=preview",
        {"lead_list_id": str(lead_list.pk), **PERSON, "enrichment_type": "full"},
        format="json",
    )
    bulk = api.post(
        "/api/v2/enrichment/bulk?mode=preview",
        {"list_id": str(lead_list.pk), "scope": "partial"},
        format="json",
    )
    task = api.post(
        "/api/v2/enrichment/by-task?mode=preview",
        {"task_id": cohort.pk, "data_points": ["Phone"]},
        format="json",
    )

    assert [r.status_code for r in (person, bulk, task)] == [200, 200, 200]
    assert person.json()["mode"] == "preview"
    assert (person.json()["estimated_cost"], person.json()["to_enrich"]) == (11, 1)
    assert (bulk.json()["total"], bulk.json()["already_enriched"]) == (4, 1)
    assert (bulk.json()["to_enrich"], bulk.json()["estimated_cost"]) == (3, 3)
    assert (task.json()["to_enrich"], task.json()["estimated_cost"]) == (4, 40)
    assert Lead.objects.count() == leads_before  # not even the previewed person
    assert lead_list.memberships.count() == 4
    _nothing_started(funded, before)


# --- Money guards -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_bulk_quote_misuse(api, funded, other_workspace):
    lead_list = list_with_leads(funded, 5)
    before = balance_get(workspace=funded)

    assert "quote_id" in assert_error(_bulk(api, lead_list), 400, "validation_error")["details"]
    expired = list_quote(funded, lead_list)
    Quote.objects.filter(quote_id=expired).update(expires_at=timezone.now() - timedelta(1))
    assert_error(_bulk(api, lead_list, quote_id=expired), 409, "quote_expired")
    theirs_list = list_with_leads(other_workspace, 5)
    theirs = list_quote(other_workspace, theirs_list)
    assert_error(_bulk(api, lead_list, quote_id=theirs), 409, "quote_mismatch")
    wrong_scope = list_quote(funded, lead_list, scope="full")
    assert_error(_bulk(api, lead_list, quote_id=wrong_scope), 409, "quote_mismatch")
    # the list changed after quoting: one more lead
    grown = list_quote(funded, lead_list)
    ListMembership.objects.create(lead_list=lead_list, lead=list_with_leads(funded, 1).leads.get())
    assert_error(_bulk(api, lead_list, quote_id=grown), 409, "quote_mismatch")
    # the cost went up after quoting: a lead lost the email it had
    Lead.objects.filter(pk=lead_list.memberships.first().lead_id).update(email="x@y.example")
    capped = list_quote(funded, lead_list)
    Lead.objects.filter(lead_lists=lead_list).update(email=None)
    assert_error(_bulk(api, lead_list, quote_id=capped), 400, "spend_cap_exceeded")
    _nothing_started(funded, before)

    # a good quote works once, then it is consumed
    good = list_quote(funded, lead_list)
    assert _bulk(api, lead_list, quote_id=good).status_code == 202
    assert_error(_bulk(api, lead_list, quote_id=good), 409, "quote_consumed")
    assert Workflow.objects.filter(workspace=funded).count() == 1


@pytest.mark.django_db
def test_bulk_empty_scope_is_400(api, funded):
    empty = LeadListFactory(workspace=funded)
    assert_error(_bulk(api, empty, quote_id=list_quote(funded, empty)), 400, "empty_lead_scope")
    full = list_with_leads(funded, 2, email="known@example.com")
    assert_error(_bulk(api, full, quote_id=list_quote(funded, full)), 400, "empty_lead_scope")
    assert not Workflow.objects.exists()


@pytest.mark.django_db
def test_bulk_insufficient_credits_is_402_and_creates_nothing(api, workspace):
    lead_list = list_with_leads(workspace, 3)
    quote_id = list_quote(workspace, lead_list)
    before = balance_get(workspace=workspace)
    error = assert_error(_bulk(api, lead_list, quote_id=quote_id), 402, "insufficient_credits")
    assert (error["details"]["required"], error["details"]["balance"]) == (3, 0)
    _nothing_started(workspace, before)
    assert Quote.objects.get(quote_id=quote_id).consumed_at is None


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_bulk_max_credits_caps_the_charge(api, funded, worker):
    lead_list = list_with_leads(funded, 300)
    before = balance_get(workspace=funded)
    response = _bulk(api, lead_list, quote_id=list_quote(funded, lead_list), max_credits=50)
    assert response.json()["credits_reserved"] == 50
    workflow = wait_terminal(response.json()["workflow_id"])

    assert workflow.status == WorkflowStatus.COMPLETED
    assert 0 < workflow.credits_charged <= 50
    skipped = WorkflowItem.objects.filter(workflow=workflow, status=ItemStatus.SKIPPED)
    assert skipped.count() >= 250
    assert set(skipped.values_list("error", flat=True)) == {"max_credits reached"}
    assert not skipped.exclude(credits_charged=0).exists()
    assert_settled(workflow)
    assert balance_get(workspace=funded).balance == before.balance - workflow.credits_charged
    assert_ledger_consistent(funded)


# --- Dispatch ---------------------------------------------------------------------------------


@contextmanager
def _broker_down():
    """Points this process's Celery app at a port nobody listens on, then restores it."""
    saved = app.conf.broker_url

    def reset_pools() -> None:
        # kombu caches pools per connection URL; dropping the app's references is enough.
        app._pool = None
        app.amqp._producer_pool = None

    app.conf.broker_url = "redis://127.0.0.1:1/0"
    reset_pools()
    try:
        yield
    finally:
        app.conf.broker_url = saved
        reset_pools()


@pytest.mark.django_db(transaction=True)
def test_dispatch_failure_is_502_with_the_hold_released(api, funded):
    lead_list = LeadListFactory(workspace=funded)
    before = balance_get(workspace=funded)
    body = {"lead_list_id": str(lead_list.pk), **PERSON}

    with _broker_down():
        response = api.post(
            "/api/v2/enrichment/person", body, format="json", HTTP_IDEMPOTENCY_KEY="d-1"
        )

    error = assert_error(response, 502, "dispatch_failed")
    workflow = Workflow.objects.get(pk=error["details"]["workflow_id"])
    assert workflow.status == WorkflowStatus.FAILED
    assert (workflow.credits_charged, workflow.credits_refunded) == (0, 1)
    assert Hold.objects.get(pk=workflow.hold_id).state == Hold.State.RELEASED
    assert balance_get(workspace=funded) == before
    assert_ledger_consistent(funded)
    # the key was released: the client's retry, once the broker is back, starts a new run
    retry = api.post("/api/v2/enrichment/person", body, format="json", HTTP_IDEMPOTENCY_KEY="d-1")
    assert retry.status_code == 202
    assert retry.json()["workflow_id"] != workflow.pk
    assert "idempotent_replayed" not in retry.json()


@pytest.mark.django_db(transaction=True)
def test_dispatch_waits_for_the_outer_commit(funded, sole_consumer):
    broker = redis.Redis.from_url(django_settings.REDIS_URL)
    lead_list = LeadListFactory(workspace=funded)
    queue = django_settings.SLUICE_PLANNING_QUEUE  # a run's first step
    queued = broker.llen(queue)
    with transaction.atomic():
        started = start.person_enrichment_start(
            workspace=funded,
            lead_list_id=lead_list.pk,
            person=PERSON,
            enrichment_type="partial",
        )
        # a worker must not get a message for a row it cannot see yet
        assert broker.llen(queue) == queued
    assert broker.llen(queue) == queued + 1
    assert Workflow.objects.get(pk=started.workflow.pk).dispatched_at is not None


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_lost_enqueue_is_redispatched_by_the_sweeper(api, funded, settings, sole_consumer):
    # given a bulk run whose message vanished (accepted, then the queue was lost)
    settings.SLUICE_STALL_GRACE_SECONDS = 0
    lead_list = list_with_leads(funded, 20)
    response = _bulk(api, lead_list, quote_id=list_quote(funded, lead_list))
    app.control.purge()
    workflow_id = response.json()["workflow_id"]
    assert Workflow.objects.get(pk=workflow_id).status == WorkflowStatus.PENDING

    # when a worker is there and beat sweeps
    worker = WorkerProcess(env=SANDBOX_ENV).start()
    try:
        workflow = sweep_until_terminal(workflow_id, timeout=60)
    finally:
        worker.stop()

    # then it ran to the end, settled once
    assert workflow.status == WorkflowStatus.COMPLETED
    assert workflow.processed == 20
    assert_settled(workflow)


# --- Cancel -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.worker
def test_cancel_running_bulk(api, funded, settings, sole_consumer):
    slow = {**SANDBOX_ENV, "SLUICE_SANDBOX_LATENCY_MS": "20", "SLUICE_CHUNK_SIZE": "50"}
    worker = WorkerProcess(env=slow).start()
    try:
        lead_list = list_with_leads(funded, 1000)
        before = balance_get(workspace=funded)
        workflow_id = _bulk(api, lead_list, quote_id=list_quote(funded, lead_list)).json()[
            "workflow_id"
        ]
        wait_until(lambda: Workflow.objects.get(pk=workflow_id).processed >= 100, timeout=60)

        response = api.post(f"/api/v2/enrichment/{workflow_id}/cancel")
        assert response.status_code == 200
        workflow = wait_terminal(workflow_id)
    finally:
        worker.stop()

    assert workflow.status == WorkflowStatus.CANCELLED
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert items.filter(status=ItemStatus.CANCELLED).count() == workflow.cancelled > 0
    assert items.filter(status__in=(ItemStatus.COMPLETED, ItemStatus.NOT_FOUND)).count() >= 100
    assert not items.filter(credits_charged__gt=0, status=ItemStatus.CANCELLED).exists()
    assert_settled(workflow)
    assert workflow.credits_refunded == 1000 - workflow.credits_charged
    assert balance_get(workspace=funded).balance == before.balance - workflow.credits_charged
    assert_ledger_consistent(funded)
    # cancelling again changes nothing
    again = api.post(f"/api/v2/enrichment/{workflow_id}/cancel")
    assert again.json()["status"] == "cancelled"
    assert LedgerEntry.objects.filter(workflow_id=workflow_id, kind="release").count() == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_before_planning_settles_when_the_planner_runs(api, funded, sole_consumer):
    lead_list = list_with_leads(funded, 10)
    workflow_id = _bulk(api, lead_list, quote_id=list_quote(funded, lead_list)).json()[
        "workflow_id"
    ]
    assert api.post(f"/api/v2/enrichment/{workflow_id}/cancel").status_code == 200

    execution.workflow_plan(workflow_id=workflow_id)  # what the planner task runs

    workflow = Workflow.objects.get(pk=workflow_id)
    assert workflow.status == WorkflowStatus.CANCELLED
    assert (workflow.credits_charged, workflow.credits_refunded) == (0, 10)
    assert_settled(workflow)


# --- Deadline and sweepers --------------------------------------------------------------------


def _half_done_bulk(workspace, settings) -> Workflow:
    """A bulk run planned in three chunks, the first of them done (run in this process)."""
    settings.SLUICE_CHUNK_SIZE = 10
    lead_list = list_with_leads(workspace, 30)
    started = start.bulk_enrichment_start(
        workspace=workspace,
        list_id=lead_list.pk,
        enrichment_type="partial",
        output="skip_existing",
        quote_id=list_quote(workspace, lead_list),
    )
    execution.workflow_plan(workflow_id=started.workflow.pk)
    execution.chunk_run(workflow_id=started.workflow.pk, chunk_no=0)
    workflow = Workflow.objects.get(pk=started.workflow.pk)
    assert (workflow.status, workflow.processed, workflow.total) == ("running", 10, 30)
    return workflow


@pytest.mark.django_db(transaction=True)
def test_deadline_ends_the_run_failed_with_the_rest_under_review(funded, settings, sole_consumer):
    workflow = _half_done_bulk(funded, settings)
    Workflow.objects.filter(pk=workflow.pk).update(deadline=timezone.now() - timedelta(seconds=1))

    report = execution.workflows_sweep()

    workflow.refresh_from_db()
    assert report["expired"] == 1
    assert (workflow.status, workflow.refund_status) == ("failed", "pending_review")
    assert workflow.error == "deadline passed"
    late = WorkflowItem.objects.filter(workflow=workflow, chunk_no__gt=0)
    assert set(late.values_list("status", "error")) == {("failed", "deadline passed")}
    assert_settled(workflow)
    held = balance_get(workspace=funded).held
    assert held == workflow.credits_reserved - workflow.credits_charged  # awaiting review
    assert_ledger_consistent(funded)


@pytest.mark.django_db(transaction=True)
def test_two_sweepers_at_once_settle_once(funded, settings, sole_consumer):
    workflow = _half_done_bulk(funded, settings)
    Workflow.objects.filter(pk=workflow.pk).update(deadline=timezone.now() - timedelta(seconds=1))
    barrier = threading.Barrier(2)
    errors = []

    def sweep() -> None:
        barrier.wait()
        try:
            execution.workflows_sweep()
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    workflow.refresh_from_db()
    assert workflow.status == WorkflowStatus.FAILED
    assert workflow.processed == workflow.total == 30
    assert_settled(workflow)
    entries = LedgerEntry.objects.filter(workflow_id=workflow.pk)
    assert entries.filter(kind="charge").count() <= 1
    assert entries.filter(kind="release").count() == 0  # the rest waits for review
    assert_ledger_consistent(funded)
