import pytest

from credits.services import credits_grant

# Shared with other packages' tests: they live in tests/workers.py, re-exported here for the
# modules that import them from this conftest.
from tests.workers import (  # noqa: F401
    SANDBOX_ENV,
    SANDBOX_INSTANCES,
    assert_ledger_consistent,
    assert_settled,
    session_worker,
    sole_consumer,
    sweep_until_terminal,
    wait_terminal,
    worker,
)


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    # The same sandbox in this process (synchronous company lookups) as in the worker.
    settings.SLUICE_SANDBOX_INSTANCES = SANDBOX_INSTANCES


@pytest.fixture
def funded(workspace):
    def fund(amount: int = 100_000):
        credits_grant(workspace=workspace, amount=amount, reason="test", reference=f"t{amount}")

    fund()
    return workspace
