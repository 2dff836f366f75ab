"""enrichment.dispatch sends tasks by name (importing the tasks module would close an import
cycle through the services): every name it sends must be a task a worker has registered."""

from config.celery import app
from enrichment import dispatch


def test_dispatch_every_task_name_is_a_registered_task():
    # given the tasks a worker registers at start (autodiscovery of every app's tasks module)
    app.loader.import_default_modules()

    # then each name dispatch sends is one of them
    assert set(dispatch.TASK_NAMES) <= set(app.tasks)
