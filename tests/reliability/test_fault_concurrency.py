"""Concurrency (issue 7, item 4): 200 identical requests at once with one Idempotency-Key;
100 spends at once on a balance for 50; cancels racing a run's last chunk; two beat sweepers at
once over many workflows.

Requests go through the whole Django stack from up to 30 threads (PostgreSQL's
max_connections is shared with other test runs), each thread sending its share of the
requests as soon as all are ready."""

import random
import threading
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from config.celery import app
from credits.models import LedgerEntry
from credits.selectors import balance_get
from enrichment.models import Workflow, WorkflowStatus
from enrichment.services.execution import workflows_sweep
from tests.conftest import client_for
from tests.factories import ApiKeyFactory
from tests.helpers import at_once, wait_until
from tests.leads.factories import LeadListFactory
from tests.reliability.conftest import LONG
from tests.reliability.faults import (
    CHAOS_ENV,
    assert_invariants,
    count_fault,
    fund,
    processed,
    start_bulk,
    sweep_until_all_terminal,
)
from tests.workers import WorkerProcess

pytestmark = [pytest.mark.reliability, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

THREADS = 30
PERSON = "/api/v2/enrichment/person"
CHUNK = int(CHAOS_ENV["SLUICE_CHUNK_SIZE"])


def concurrently(api_key, requests: list[Callable], *, threads: int = THREADS) -> list:
    """Runs `request(client)` for every request, spread over `threads` threads that start
    together; returns the responses (any order)."""
    return at_once(
        [lambda request=request: request(client_for(api_key)) for request in requests],
        threads=threads,
    )


def _person_body(lead_list, n: int) -> dict:
    return {"lead_list_id": str(lead_list.pk), "linkedin_url": f"linkedin.com/in/chaos-{n}"}


@pytest.fixture
def chaos_worker(sole_consumer):
    worker = WorkerProcess(env=CHAOS_ENV).start()
    yield worker
    worker.kill()  # the test's assertions are done; its data is flushed next


def test_fault_concurrency_one_idempotency_key_200_requests(workspace, chaos_worker):
    # given a funded workspace and one request body
    fund(workspace, 100)
    api_key = ApiKeyFactory(workspace=workspace)
    lead_list = LeadListFactory(workspace=workspace)
    body = _person_body(lead_list, 1)

    # when 200 identical requests carrying the same Idempotency-Key arrive at once
    def send(client):
        return client.post(PERSON, body, format="json", HTTP_IDEMPOTENCY_KEY="chaos-key-1")

    responses = concurrently(api_key, [send] * 200)
    count_fault("concurrent request (one Idempotency-Key)", len(responses))

    # then one of them did the work, the others replayed it or were told it is in flight
    statuses = Counter(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, statuses
    fresh = [
        r for r in responses if r.status_code == 202 and not r.json().get("idempotent_replayed")
    ]
    assert len(fresh) == 1
    workflow_id = fresh[0].json()["workflow_id"]
    assert {r.json()["workflow_id"] for r in responses if r.status_code == 202} == {workflow_id}
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"]["code"] == "idempotency_conflict"
    assert Workflow.objects.filter(workspace=workspace).count() == 1
    assert LedgerEntry.objects.filter(workspace=workspace, kind="hold").count() == 1
    sweep_until_all_terminal(workspace, timeout=60)
    assert_invariants(workspace, label="200 requests, one Idempotency-Key")


def test_fault_concurrency_identical_person_requests_without_key_share_one_run(
    workspace, chaos_worker
):
    # given a funded workspace
    fund(workspace, 100)
    api_key = ApiKeyFactory(workspace=workspace)
    lead_list = LeadListFactory(workspace=workspace)
    body = _person_body(lead_list, 2)

    # when the same person is asked for 60 times at once, with no Idempotency-Key
    responses = concurrently(api_key, [lambda c: c.post(PERSON, body, format="json")] * 60)
    count_fault("concurrent request (same person, no key)", len(responses))

    # then one run pays for it; the others are answered with that run, reserving nothing
    assert Counter(r.status_code for r in responses) == {202: 60}
    assert len({r.json()["workflow_id"] for r in responses}) == 1
    assert sorted(r.json()["credits_reserved"] for r in responses) == [0] * 59 + [1]
    assert LedgerEntry.objects.filter(workspace=workspace, kind="hold").count() == 1
    sweep_until_all_terminal(workspace, timeout=60)
    assert_invariants(workspace, label="same person at once, no key")


def test_fault_concurrency_100_spends_on_a_balance_for_50(workspace, sole_consumer):
    # given 50 credits and 100 different people to enrich at 1 credit each (no worker yet: a
    # run settled during the burst would rightly give its unspent credit back to the others)
    fund(workspace, 50)
    api_key = ApiKeyFactory(workspace=workspace)
    lead_list = LeadListFactory(workspace=workspace)
    requests = [
        (lambda c, n=n: c.post(PERSON, _person_body(lead_list, 100 + n), format="json"))
        for n in range(100)
    ]

    # when all 100 are sent at once
    responses = concurrently(api_key, requests)
    count_fault("concurrent spend", len(responses))

    # then exactly 50 are accepted and 50 refused for want of credits; never below zero
    assert Counter(r.status_code for r in responses) == {202: 50, 402: 50}
    for response in responses:
        if response.status_code == 402:
            assert response.json()["error"]["code"] == "insufficient_credits"
    balance = balance_get(workspace=workspace)
    assert (balance.balance, balance.held, balance.available) == (50, 50, 0)
    worker = WorkerProcess(env=CHAOS_ENV).start()
    try:
        sweep_until_all_terminal(workspace, timeout=120)
    finally:
        worker.stop()
    assert Workflow.objects.filter(workspace=workspace).count() == 50
    assert_invariants(workspace, label="100 spends on 50 credits")


def test_fault_concurrency_cancel_races_the_last_chunk(workspace, chaos_settings, chaos_worker):
    # given bulk runs of 4 chunks each, cancelled at seeded moments around their last chunk
    rng = random.Random(7)
    runs = 20 if LONG else 6
    leads = 4 * CHUNK
    fund(workspace, runs * leads * 2)
    api_key = ApiKeyFactory(workspace=workspace)
    outcomes = Counter()
    for _ in range(runs):
        workflow = start_bulk(workspace, leads)
        moment = leads - rng.randint(0, 2 * CHUNK)
        wait_until(
            lambda wf=workflow, at=moment: processed(wf.pk) >= at,
            timeout=60,
            interval=0.01,
        )

        # when three cancels and a sweeper race the chunks that are finishing the run
        url = f"/api/v2/enrichment/{workflow.pk}/cancel"

        def cancel(client, url=url):
            return client.post(url)

        def sweep(client):
            workflows_sweep()
            return None

        responses = concurrently(api_key, [cancel, cancel, cancel, sweep], threads=4)
        count_fault("cancel racing the last chunk", 3)
        assert all(r.status_code == 200 for r in responses if r is not None)
        sweep_until_all_terminal(workspace, timeout=60)
        final = Workflow.objects.get(pk=workflow.pk)

        # then the run settled once, cancelled or completed, whichever won
        assert final.status in (WorkflowStatus.CANCELLED, WorkflowStatus.COMPLETED)
        outcomes[final.status] += 1
    count_fault("race won by cancel", outcomes[WorkflowStatus.CANCELLED])
    assert_invariants(workspace, label="cancel racing settlement")


def test_fault_concurrency_two_sweepers_over_many_workflows(
    workspace, chaos_settings, sole_consumer
):
    # given many bulk runs whose messages were all lost (no worker yet; the queue purged),
    # a third of them past their deadline
    count = 150 if LONG else 30
    fund(workspace, count * 20 * 2)
    workflows = [start_bulk(workspace, 20) for _ in range(count)]
    app.control.purge()
    past = timezone.now() - timedelta(seconds=60)
    ids = [w.pk for w in workflows]
    Workflow.objects.filter(pk__in=ids).update(created_at=past)
    expired = ids[::3]
    Workflow.objects.filter(pk__in=expired).update(deadline=past)

    # when two beat sweepers run at once, over and over, while a worker takes what they send
    worker = WorkerProcess(env=CHAOS_ENV).start()
    stop = threading.Event()
    errors: list = []
    sweeps = Counter()
    barrier = threading.Barrier(2)

    def beat(name: str) -> None:
        try:
            barrier.wait()
            while not stop.is_set():
                workflows_sweep()
                sweeps[name] += 1
                if not Workflow.objects.filter(pk__in=ids, status__in=("pending", "running")):
                    return
                stop.wait(0.2)
        except Exception as exc:
            errors.append(exc)
        finally:
            connection.close()

    beats = [threading.Thread(target=beat, args=(n,)) for n in ("beat-1", "beat-2")]
    try:
        for thread in beats:
            thread.start()
        for thread in beats:
            thread.join(timeout=180 if not LONG else 600)
        stop.set()
    finally:
        stop.set()
        worker.stop()
    count_fault("concurrent sweeps", sum(sweeps.values()))

    # then every run ended exactly once: the late ones failed with nothing delivered (their
    # hold under review), the others completed
    assert errors == []
    statuses = dict(Workflow.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert {statuses[pk] for pk in expired} == {WorkflowStatus.FAILED}
    assert {statuses[pk] for pk in ids if pk not in expired} == {WorkflowStatus.COMPLETED}
    assert_invariants(workspace, label="two sweepers")
