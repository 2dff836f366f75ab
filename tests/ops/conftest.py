import pytest

from tests.enrichment.conftest import SANDBOX_INSTANCES

# The real worker of the session (tests/workers.py), shared with the other packages.
from tests.workers import session_worker, worker  # noqa: F401


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    # The same sandbox in this process as in the worker.
    settings.SLUICE_SANDBOX_INSTANCES = SANDBOX_INSTANCES


@pytest.fixture
def ops_worker(worker):  # noqa: F811 - the shared fixture
    """A real worker for this package's tests: the session's (SANDBOX_ENV), rather than one
    more process of their own."""
    return worker
