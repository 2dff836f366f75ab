import pytest

from credits.services import credits_grant

# The real worker of the session (tests/workers.py), shared with the other packages.
from tests.workers import (  # noqa: F401
    SANDBOX_INSTANCES,
    assert_ledger_consistent,
    assert_settled,
    session_worker,
    wait_terminal,
    worker,
)


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    settings.SLUICE_SANDBOX_INSTANCES = SANDBOX_INSTANCES


@pytest.fixture
def funded(workspace):
    credits_grant(workspace=workspace, amount=100_000, reason="test", reference="privacy-fund")
    return workspace
