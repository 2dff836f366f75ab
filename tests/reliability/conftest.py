"""Fixtures for the hostile-input and security tests: a funded workspace holding a list with
leads and a finished workflow, so generated requests reach real objects, not only 404s."""

import os
from contextlib import contextmanager

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from accounts.scopes import ALL_SCOPES
from credits.services import credits_grant
from tests.factories import ApiKeyFactory
from tests.leads.factories import LeadListFactory
from tests.reliability.faults import CHAOS_WINDOWS, FAULTS, INVARIANTS
from tests.workers import session_worker, sole_consumer, worker  # noqa: F401 - fixtures for test_fault_*

# `make chaos` sets SLUICE_CHAOS=long for the long version of the generated-input tests.
LONG = os.environ.get("SLUICE_CHAOS") == "long"

# Counted by the tests, printed at the end of the run (and quoted in docs/reliability.md).
CASES: dict[str, int] = {}


def count_case(kind: str, n: int = 1) -> None:
    CASES[kind] = CASES.get(kind, 0) + n


def pytest_terminal_summary(terminalreporter):
    if CASES:
        terminalreporter.section("hostile input: cases run")
        for kind, n in sorted(CASES.items()):
            terminalreporter.write_line(f"{kind}: {n}")
        terminalreporter.write_line(f"total: {sum(CASES.values())}")
    if FAULTS or INVARIANTS:
        terminalreporter.section("fault injection: faults injected, invariants checked")
        for kind, n in sorted(FAULTS.items()):
            terminalreporter.write_line(f"fault {kind}: {n}")
        for label, n in sorted(INVARIANTS.items()):
            terminalreporter.write_line(f"invariants {label}: {n}")
        terminalreporter.write_line(
            f"total: {sum(FAULTS.values())} faults, {sum(INVARIANTS.values())} invariant checks"
        )


@pytest.fixture
def chaos_settings(settings):
    """The sweeper runs in this process: the same short windows as the chaos workers."""
    for name, value in CHAOS_WINDOWS.items():
        setattr(settings, name, value)
    return settings


@contextmanager
def wsgi_in_test_transaction():
    """Requests sent straight to the WSGI handler run inside the test's transaction; Django's
    own test client stops the handler from closing the connection around a request, so do we
    (per call: the test client reconnects the signal after each of its own requests)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(workspace):
    """A funded workspace with a list of leads and an all-scopes key."""
    credits_grant(workspace=workspace, amount=10_000_000, reason="test", reference="hostile")
    lead_list = LeadListFactory(workspace=workspace, lead_count=5)
    api_key = ApiKeyFactory(workspace=workspace, scopes=list(ALL_SCOPES))
    return {"workspace": workspace, "list": lead_list, "api_key": api_key}
