import pytest

from tests.enrichment.conftest import SANDBOX_ENV, SANDBOX_INSTANCES
from tests.workers import SHARED_WORKERS, WorkerProcess


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    # The same sandbox in this process as in the worker.
    settings.SLUICE_SANDBOX_INSTANCES = SANDBOX_INSTANCES


@pytest.fixture(scope="session")
def ops_worker(django_db_setup, django_db_blocker):
    """One real worker for this package's tests. tests/enrichment's session worker may take
    some of the tasks too, which is fine: both run this checkout on the same test database."""
    process = WorkerProcess(env=SANDBOX_ENV, concurrency=1)
    process.start()
    # Registered so that `sole_consumer` pauses it for the tests that need their own workers.
    SHARED_WORKERS.append(process)
    yield process
    process.stop()
