"""A worker's main process, before its pool forks, freezes what its imports left and collects
the youngest generation less often (config.celery._freeze_startup_objects)."""

import gc

from config import celery


def test_worker_start_freezes_startup_objects_and_raises_the_young_threshold():
    before = gc.get_threshold()
    try:
        celery._freeze_startup_objects()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (celery.YOUNG_GC_THRESHOLD, *before[1:])
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
