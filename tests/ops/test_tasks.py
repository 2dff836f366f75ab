import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import uuid
from datetime import timedelta
from pathlib import Path
from types import CodeType

import pytest
from django.apps import apps
from django.conf import settings
from django.utils import timezone

from common.models import IdempotencyRecord
from common.tasks import purge_idempotency_records
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


def test_purge_idempotency_records_task_deletes_only_expired(workspace):
    IdempotencyRecord.objects.create(
        workspace=workspace, key="live", fingerprint="a", locked_at=timezone.now()
    )
    old = IdempotencyRecord.objects.create(
        workspace=workspace, key="old", fingerprint="a", locked_at=timezone.now()
    )
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=25)
    )

    assert purge_idempotency_records.apply().get() == 1
    assert purge_idempotency_records.apply().get() == 0
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["live"]


def test_beat_schedule_names_registered_tasks():
    app.loader.import_default_modules()
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in app.tasks, entry
    assert "leads.purge_expired_cohorts" in {
        e["task"] for e in settings.CELERY_BEAT_SCHEDULE.values()
    }


ROUTED = [
    "enrichment.run_chunk",
    "enrichment.deliver_webhook",
    "enrichment.plan_workflow",
    "enrichment.sweep_workflows",
    "enrichment.recover_orphans",
    "credits.expire_holds",
]
QUEUE_VARIABLES = ("SLUICE_PLANNING_QUEUE", "SLUICE_CHUNK_QUEUE", "SLUICE_WEBHOOK_QUEUE",
                   "SLUICE_HOUSEKEEPING_QUEUE")  # fmt: skip


def _routes(**env: str) -> dict:
    # the route a publish takes: the task's own queue option, then the router; and the queues a
    # worker started without -Q consumes
    code = (
        "import json; from config.celery import app; app.loader.import_default_modules(); "
        f"tasks = [app.tasks[t] for t in {ROUTED!r}]; "
        "print(json.dumps({t.name: app.amqp.router.route("
        "{'queue': t.queue} if t.queue else {}, t.name, task_type=t)['queue'].name "
        "for t in tasks} | {'consumed': sorted(app.amqp.queues)}))"
    )
    # The defaults unless `env` says otherwise, whatever the shell running the tests exported.
    inherited = {name: value for name, value in os.environ.items() if name not in QUEUE_VARIABLES}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": "config.settings.test", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_task_routes_each_kind_of_work_has_its_queue_and_a_plain_worker_consumes_all():
    routes = _routes()

    assert routes == {
        "enrichment.plan_workflow": "planning",
        "enrichment.run_chunk": "chunks",
        "enrichment.deliver_webhook": "webhooks",
        "enrichment.sweep_workflows": "housekeeping",
        "enrichment.recover_orphans": "housekeeping",
        "credits.expire_holds": "housekeeping",
        "consumed": ["celery", "chunks", "housekeeping", "planning", "webhooks"],
    }


def test_task_routes_empty_queue_names_put_everything_on_the_default_queue():
    routes = _routes(**dict.fromkeys(QUEUE_VARIABLES, ""))

    assert set(routes.pop("consumed")) == {"celery"}
    assert set(routes.values()) == {"celery"}


# --- Every purge and expiry runs from beat ------------------------------------------------------

PURGE_OR_EXPIRE = re.compile(r"(?:^|_)(?:purge|expire)(?:_|$)")


def _purge_and_expire_functions() -> dict[str, CodeType]:
    """Public functions named for a purge or an expiry, in every module of every local app."""
    root = Path(settings.BASE_DIR)
    found = {}
    for config in apps.get_app_configs():
        # Our apps sit at the top of the checkout (a virtualenv inside it holds others).
        if Path(config.path).parent != root:
            continue
        modules = [config.name] + [
            info.name
            for info in pkgutil.walk_packages([config.path], prefix=f"{config.name}.")
            if not {"migrations", "management"} & set(info.name.split("."))
        ]
        for name in modules:
            module = importlib.import_module(name)
            for attribute, value in vars(module).items():
                if (
                    inspect.isfunction(value)
                    and value.__module__ == name
                    and not attribute.startswith("_")
                    and PURGE_OR_EXPIRE.search(attribute)
                ):
                    found[f"{name}.{attribute}"] = inspect.unwrap(value).__code__
    return found


def test_every_purge_and_expire_service_runs_from_a_beat_task(settings, tmp_path):
    # given every purge/expire function in the code base, and a workspace's export folder
    # (the exports' beat task purges per workspace folder: without one it has none to visit)
    settings.EXPORT_DIR = tmp_path / "exports"
    (settings.EXPORT_DIR / str(uuid.uuid4())).mkdir(parents=True)
    targets = _purge_and_expire_functions()
    assert {"common.idempotency.purge_expired", "credits.services.ledger.holds_expire"} <= set(
        targets
    )
    names = {code: name for name, code in targets.items()}
    reached: set[str] = set()

    def record(frame, event, arg) -> None:
        if event == "call" and frame.f_code in names:
            reached.add(names[frame.f_code])

    # when every task on the beat schedule runs (eagerly, in this thread)
    app.loader.import_default_modules()
    sys.setprofile(record)
    try:
        for entry in settings.CELERY_BEAT_SCHEDULE.values():
            app.tasks[entry["task"]].apply().get()
    finally:
        sys.setprofile(None)

    # then each of them was called
    assert sorted(set(targets) - reached) == []
