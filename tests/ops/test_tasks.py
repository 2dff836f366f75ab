import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from config.celery import app
from leads.models import Cohort
from leads.services import cohort_create
from leads.tasks import purge_expired_cohorts
from tests.workers import ROOT

pytestmark = pytest.mark.django_db


def test_purge_expired_cohorts_task_deletes_only_expired(workspace):
    live = cohort_create(workspace=workspace, entity_kind="person", entity_ids=[], source="t")
    old = cohort_create(workspace=workspace, entity_kind="person", entity_ids=[], source="t")
    Cohort.objects.filter(pk=old.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    assert purge_expired_cohorts.apply().get() == 1
    assert purge_expired_cohorts.apply().get() == 0
    assert list(Cohort.objects.values_list("pk", flat=True)) == [live.pk]


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry
    assert "leads.purge_expired_cohorts" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()
    }


def _routes(**env: str) -> dict:
    # the route a publish takes: the task's own queue option, then the router
    code = (
        "import json; from config.celery import app; app.loader.import_default_modules(); "
        "tasks = [app.tasks[t] for t in "
        "['enrichment.run_chunk', 'enrichment.deliver_webhook', 'enrichment.plan_workflow']]; "
        "print(json.dumps({t.name: app.amqp.router.route("
        "{'queue': t.queue} if t.queue else {}, t.name, task_type=t)['queue'].name "
        "for t in tasks}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_task_routes_default_everything_to_one_queue():
    routes = _routes(SLUICE_CHUNK_QUEUE="", SLUICE_WEBHOOK_QUEUE="")

    assert set(routes.values()) == {"celery"}


def test_task_routes_send_chunks_and_webhooks_to_their_queues():
    routes = _routes(SLUICE_CHUNK_QUEUE="chunks", SLUICE_WEBHOOK_QUEUE="webhooks")

    assert routes == {
        "enrichment.run_chunk": "chunks",
        "enrichment.deliver_webhook": "webhooks",
        "enrichment.plan_workflow": "celery",
    }
