"""A worker gives the C heap's free pages back before its pool forks and after each message
(config.celery.heap_trim): glibc keeps the pages freed below the top of its heap, and a pool
process's RSS crept up over a run and the next."""

from celery.signals import task_postrun

from config import celery as celery_app


def test_heap_trim_runs_after_each_message_and_before_the_pool_forks(monkeypatch):
    trims: list[int] = []
    monkeypatch.setattr(celery_app, "_MALLOC_TRIM", trims.append)
    monkeypatch.setattr(celery_app.gc, "freeze", lambda: None)
    threshold = celery_app.gc.get_threshold()

    try:
        # when a pool process finishes a message, and when a worker starts its pool (worker_init)
        task_postrun.send(sender=None)
        celery_app._freeze_startup_objects()
    finally:
        celery_app.gc.set_threshold(*threshold)

    # then both gave the heap's free pages back (everything above its base: malloc_trim(0))
    assert trims == [0, 0]


def test_heap_trim_does_nothing_without_glibc(monkeypatch):
    # given a C library without malloc_trim (macOS, musl)
    monkeypatch.setattr(celery_app, "_MALLOC_TRIM", None)

    # then trimming is a no-op, not an error
    celery_app.heap_trim()
