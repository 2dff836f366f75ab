"""A large plan is committed and sent in batches of whole chunks, so its first chunks run while
the rest is planned: every chunk is still numbered by the scope's stable order and sent once,
and a batch's lock on the workflow keeps the expiry out but not the running chunks' counts."""

import base64
import json
import threading

import pytest
import redis
from django.conf import settings as django_settings
from django.db import OperationalError, connection, connections, transaction
from django.db.models import F

from enrichment.chunk_layout import chunk_layout
from enrichment.models import Workflow, WorkflowItem
from enrichment.services import execution
from enrichment.services.start import bulk_enrichment_start
from leads.models import ListMembership
from tests.enrichment.factories import list_quote, list_with_leads, planner_at_work
from tests.helpers import wait_until

# No worker may take the plan's messages: the test reads them from the broker.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("sole_consumer")]


def _sent_chunks(workflow_id: str) -> list[int]:
    """The chunk numbers of the run's messages waiting in the chunk queue, in the order sent."""
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    sent = []
    # Kombu's Redis transport pushes on the left: the oldest message is the last.
    for raw in reversed(broker.lrange(django_settings.SLUICE_CHUNK_QUEUE, 0, -1)):
        args = json.loads(base64.b64decode(json.loads(raw)["body"]))[0]
        if args[0] == workflow_id:
            sent += [args[1], *(args[2] if len(args) > 2 and args[2] else [])]
    return sent


def _lock_timeout(value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL lock_timeout = '{value}'")


def _start(workspace, leads: int):
    lead_list = list_with_leads(workspace, leads)
    workflow = bulk_enrichment_start(
        workspace=workspace, list_id=lead_list.pk, enrichment_type="partial",
        output="skip_existing", quote_id=list_quote(workspace, lead_list),
    ).workflow  # fmt: skip
    return lead_list, workflow


def test_a_plan_in_batches_numbers_and_sends_every_chunk_once(funded, settings):
    # given chunks of 2: batches of 2, 4 and 8 chunks (the last one short, the run's smaller
    # last chunks in the third)
    settings.SLUICE_CHUNK_SIZE = 2
    lead_list, workflow = _start(funded, 25)

    execution.workflow_plan(workflow_id=workflow.pk)

    # then every lead has its item, in the chunk its place in the list gives it
    layout = chunk_layout(total=25, size=2)
    order = ListMembership.objects.filter(lead_list=lead_list).order_by("id")
    expected = {
        lead_id: layout.chunk_no(i)
        for i, lead_id in enumerate(order.values_list("lead_id", flat=True))
    }
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert dict(items.values_list("lead_id", "chunk_no")) == expected
    workflow.refresh_from_db()
    assert (workflow.planned, workflow.total, workflow.chunk_count) == (True, 25, 14)
    # and each chunk went out once, the first batch's first
    assert _sent_chunks(workflow.pk) == list(range(14))


def test_a_plan_batch_lets_running_chunks_count_but_keeps_the_expiry_out(funded, settings):
    # given a plan batch holding the workflow's row, as the planner does while it inserts
    _, workflow = _start(funded, 3)
    holding, release = threading.Event(), threading.Event()

    def plan_batch():
        try:
            with transaction.atomic():
                assert execution._plan_open(workflow.pk, share=True)
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    planner = threading.Thread(target=plan_batch)
    planner.start()
    assert holding.wait(10)
    try:
        # then a chunk's counters (as _record writes them) do not wait for it
        with transaction.atomic():
            _lock_timeout("2s")
            Workflow.objects.filter(pk=workflow.pk).update(processed=F("processed") + 1)
        # but the expiry's lock (FOR UPDATE, under which it closes the plan) does
        with transaction.atomic():
            _lock_timeout("200ms")
            with pytest.raises(OperationalError):
                Workflow.objects.select_for_update().get(pk=workflow.pk)
    finally:
        release.set()
        planner.join(10)
    workflow.refresh_from_db()
    assert workflow.processed == 1


def _waits_for_advisory_lock() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        return cursor.fetchone()[0] > 0


def test_a_second_planner_waits_for_the_first(funded, settings):
    # given a planner of the run holding the plan (a duplicate message's planner comes next)
    settings.SLUICE_CHUNK_SIZE = 2
    _, workflow = _start(funded, 9)

    def second_planner():
        try:
            execution.workflow_plan(workflow_id=workflow.pk)
        finally:
            connections.close_all()

    second = threading.Thread(target=second_planner)
    try:
        with planner_at_work(workflow.pk):
            second.start()
            # then the second inserts nothing while the first plans
            wait_until(_waits_for_advisory_lock, timeout=10)
            assert not WorkflowItem.objects.filter(workflow=workflow).exists()
    finally:
        second.join(30)
    # and plans the run once the first is done
    workflow.refresh_from_db()
    assert (workflow.planned, workflow.total) == (True, 9)
    assert _sent_chunks(workflow.pk) == list(range(5))


def test_a_planner_in_a_worker_process_runs_a_chunk_of_a_batch_on_its_free_drivers(
    funded, settings, monkeypatch
):
    # given this process as a worker's pool process, its chunk drivers free, and chunks of 2:
    # batches of chunks 0-1, 2-5 and 6-13
    settings.SLUICE_CHUNK_SIZE = 2
    _, workflow = _start(funded, 25)
    monkeypatch.setattr(execution, "_drivers", None)
    execution.chunk_drivers_start()

    # when it plans the run (and the process then exits, its chunks in hand done)
    execution.workflow_plan(workflow_id=workflow.pk)
    execution.chunk_drivers_stop()

    # then the first batch's first chunk ran here, as may the later batches' first chunks
    # (whenever a driver was free), and every other chunk went out once, in order
    sent = _sent_chunks(workflow.pk)
    ran_here = set(range(14)) - set(sent)
    assert sent == sorted(set(sent))
    assert 0 in ran_here
    assert ran_here <= {0, 2, 6}
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert not items.filter(chunk_no__in=ran_here, finished_at__isnull=True).exists()
    assert not items.filter(chunk_no__in=sent).exclude(status="queued").exists()


def test_a_planner_returns_once_the_chunk_it_runs_has_fed_its_people(funded, settings, monkeypatch):
    # given this process as a worker's pool process, whose chunks wait before they feed the
    # pool, and a plan of three batches (chunks 0-1, 2-5, 6-13)
    settings.SLUICE_CHUNK_SIZE = 2
    _, workflow = _start(funded, 25)
    monkeypatch.setattr(execution, "_drivers", None)
    execution.chunk_drivers_start()
    entered, release, returned = threading.Event(), threading.Event(), threading.Event()

    def chunk_run(*, workflow_id: str, chunk_no: int, fed: threading.Event) -> None:
        entered.set()
        release.wait(timeout=30)
        fed.set()

    monkeypatch.setattr(execution, "chunk_run", chunk_run)

    def plan() -> None:
        try:
            execution.workflow_plan(workflow_id=workflow.pk)
        finally:
            connection.close()
            returned.set()

    # when the plan is written while the chunk the planner runs has not fed the pool
    planner = threading.Thread(target=plan)
    planner.start()
    wait_until(lambda: entered.is_set() and Workflow.objects.get(pk=workflow.pk).planned)
    returned_before_fed = returned.is_set()
    release.set()
    planner.join(30)
    execution.chunk_drivers_stop()

    # then the planner waited for it (its message acked earlier would leave the chunk unclaimed
    # with no message), and returned once it had fed
    assert not returned_before_fed
    assert returned.is_set()
    # and started no other chunk meanwhile: the later batches' first chunks went out
    assert _sent_chunks(workflow.pk) == list(range(1, 14))


def test_a_list_grown_since_the_start_is_planned_whole(funded, settings):
    # given a run started on 5 leads, the list grown to 9 before it is planned
    settings.SLUICE_CHUNK_SIZE = 2
    lead_list, workflow = _start(funded, 5)
    more = list_with_leads(funded, 4)
    for membership in ListMembership.objects.filter(lead_list=more):
        ListMembership.objects.create(lead_list=lead_list, lead_id=membership.lead_id)

    execution.workflow_plan(workflow_id=workflow.pk)

    # then every lead has its item, counted in the total, each chunk sent once
    workflow.refresh_from_db()
    assert WorkflowItem.objects.filter(workflow=workflow).count() == 9
    assert (workflow.planned, workflow.total, workflow.chunk_count) == (True, 9, 5)
    assert _sent_chunks(workflow.pk) == list(range(5))


def test_a_plan_cut_short_and_sent_again_counts_the_items_it_finds(funded, settings):
    # given a run of 5 leads whose plan was cut short after writing two items: one for the
    # list's first lead, one for a lead that has left the list since
    settings.SLUICE_CHUNK_SIZE = 2
    lead_list, workflow = _start(funded, 5)
    first = ListMembership.objects.filter(lead_list=lead_list).order_by("id").first()
    gone = ListMembership.objects.get(lead_list=list_with_leads(funded, 1))
    for lead_id in (first.lead_id, gone.lead_id):
        WorkflowItem.objects.create(workflow=workflow, lead_id=lead_id, chunk_no=0)

    # when the plan runs again
    execution.workflow_plan(workflow_id=workflow.pk)

    # then every lead of the list has one item, and the total counts the one left behind too
    workflow.refresh_from_db()
    items = WorkflowItem.objects.filter(workflow=workflow)
    assert items.count() == 6
    assert items.filter(lead_id=first.lead_id).count() == 1
    assert (workflow.planned, workflow.total, workflow.chunk_count) == (True, 6, 3)
