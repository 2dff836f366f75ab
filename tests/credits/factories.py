"""Credits test data. Money only moves through the services (a factory that wrote ledger rows
directly could build states the services never produce), so these are thin wrappers."""

import itertools

import factory
from django.contrib.auth import get_user_model
from factory.django import DjangoModelFactory

from accounts.models import Workspace
from credits.models import Hold, LedgerEntry
from credits.services import credits_grant, hold_place

_sequence = itertools.count()


def grant(workspace: Workspace, amount: int, *, reference: str | None = None) -> LedgerEntry:
    return credits_grant(
        workspace=workspace,
        amount=amount,
        reason="test grant",
        reference=reference or f"test-grant-{next(_sequence)}",
    )


def place(workspace: Workspace, amount: int, **kwargs) -> Hold:
    n = next(_sequence)
    kwargs.setdefault("reference", f"test-hold-{n}")
    kwargs.setdefault("workflow_id", f"enrich-test-{n}")
    return hold_place(workspace=workspace, amount=amount, **kwargs)


class StaffUserFactory(DjangoModelFactory):
    class Meta:
        model = get_user_model()

    username = factory.Sequence(lambda n: f"operator{n}")
    is_staff = True
    is_superuser = True
    password = factory.django.Password("pw")
