"""The Celery app. All configuration lives in Django settings under the `CELERY_` namespace."""

import ctypes
import ctypes.util
import gc
import logging
import os

from celery import Celery, bootsteps
from celery.signals import setup_logging, task_postrun, worker_init

from config.broker import transport_register
from config.runtime import celery_dirs, dirs_create

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Celery's Django fixup runs Django's system checks as a worker or beat starts. The URL checks
# import every view, the admin and the OpenAPI machinery: most of a second of each start and
# some 30 MB of each worker process (docs/operations.md, "Worker start"), for checks that
# `manage.py migrate` (a deployment's first step) and the test suite run on the same code.
# `CELERY_SKIP_CHECKS=` (empty) in the environment turns them back on.
os.environ.setdefault("CELERY_SKIP_CHECKS", "1")

logger = logging.getLogger(__name__)

transport_register()
app = Celery("sluice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


class OrphanRecovery(bootsteps.StartStopStep):
    """Each time a worker's consumer (re)connects to the broker (at start, after losing Redis)
    it asks for the chunks of dead workers to be re-sent: the broker would return a dead
    worker's unacknowledged messages only after its visibility timeout (an hour), and beat's
    next sweep may be a while off."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def start(self, parent) -> None:
        from enrichment import dispatch

        try:
            dispatch.orphans_recovery()
        except dispatch.BROKER_ERRORS as exc:
            # Beat's sweeper does the same on its next tick.
            logger.warning("could not ask for orphaned chunks: %s", exc)


app.steps["consumer"].add(OrphanRecovery)


@app.on_after_configure.connect
def _create_celery_dirs(**kwargs) -> None:
    """Every process that uses the app (worker, beat, a publishing web process) creates the
    folders Celery writes into once the configuration is read, before it first connects."""
    dirs_create(celery_dirs())


# Objects allocated (net) between two collections of the youngest generation, in a worker.
YOUNG_GC_THRESHOLD = 20_000


@worker_init.connect
def _freeze_startup_objects(**kwargs) -> None:
    """A worker's main process has imported everything by now; its pool forks next, each fork
    after a full garbage collection (Celery's, so no garbage is copied into the child). Over the
    ~100,000 objects the imports leave (no garbage among them: a collection here finds none),
    each of those collections costs about 0.1 s of the worker's start, and each child's own full
    collections would touch, and so copy, the memory it shares with the main process. Frozen,
    the collections skip them (gc.freeze, made for this: a fork without exec).

    The youngest generation is collected every 20,000 new objects rather than 700: a chunk's
    rows, people and results live until its slice is written, so at 700 each collection
    walked them again (~500 collections and 4 full ones per 20,000 leads, 4-5 % of a chunk's
    CPU: docs/benchmarks.md); the children inherit the threshold."""
    gc.freeze()
    gc.set_threshold(YOUNG_GC_THRESHOLD, *gc.get_threshold()[1:])
    heap_trim()


def _malloc_trim():
    """glibc's malloc_trim, or None where the C library has none (macOS, musl)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (OSError, AttributeError):
        return None


_MALLOC_TRIM = _malloc_trim()


def heap_trim() -> None:
    """Gives the C heap's free pages back to the system. glibc gives back only the top of its
    heap by itself: the pages freed below it (a chunk's rows, statements and answers, freed
    once it is written) stay in the process, and its RSS crept up over a run and the next
    (docs/benchmarks.md, "Outside the chunks")."""
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


@task_postrun.connect
def _heap_trim_after_task(**kwargs) -> None:
    """A pool process between two messages: what its last message freed goes back."""
    heap_trim()


@setup_logging.connect
def _use_django_logging(**kwargs) -> None:
    """Workers log exactly as the web does (settings.LOGGING: text or JSON, with request,
    workflow and task ids). Connecting this signal stops Celery from installing its own
    handlers; `--loglevel` is then ignored in favour of SLUICE_LOG_LEVEL."""
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
