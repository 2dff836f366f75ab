from datetime import timedelta

import pytest
from django.utils import timezone

from common.exceptions import IdempotencyConflict, ValidationFailed
from common.idempotency import request_fingerprint, run_idempotently
from common.models import IdempotencyRecord

pytestmark = pytest.mark.django_db


def _counter():
    calls = []

    def work():
        calls.append(1)
        return 201, {"n": len(calls)}

    return calls, work


def test_run_idempotently_replays_the_first_response(workspace):
    calls, work = _counter()
    fingerprint = request_fingerprint(operation="op", payload={"a": 1})
    first = run_idempotently(workspace=workspace, key="k1", fingerprint=fingerprint, work=work)
    second = run_idempotently(workspace=workspace, key="k1", fingerprint=fingerprint, work=work)
    assert (first.status_code, first.body, first.replayed) == (201, {"n": 1}, False)
    assert (second.status_code, second.body, second.replayed) == (201, {"n": 1}, True)
    assert len(calls) == 1


def test_run_idempotently_rejects_the_same_key_with_another_body(workspace):
    _, work = _counter()
    run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work)
    with pytest.raises(IdempotencyConflict):
        run_idempotently(workspace=workspace, key="k", fingerprint="b", work=work)


def test_run_idempotently_keys_are_per_workspace(workspace, other_workspace):
    calls, work = _counter()
    run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work)
    result = run_idempotently(workspace=other_workspace, key="k", fingerprint="a", work=work)
    assert not result.replayed
    assert len(calls) == 2


def test_run_idempotently_in_flight_is_a_conflict_until_abandoned(workspace):
    IdempotencyRecord.objects.create(
        workspace=workspace, key="k", fingerprint="a", locked_at=timezone.now()
    )
    _, work = _counter()
    with pytest.raises(IdempotencyConflict, match="in flight"):
        run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work)
    IdempotencyRecord.objects.update(locked_at=timezone.now() - timedelta(minutes=10))
    assert not run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work).replayed


def test_run_idempotently_failed_work_releases_the_key(workspace):
    def failing():
        raise ValidationFailed("nope")

    with pytest.raises(ValidationFailed):
        run_idempotently(workspace=workspace, key="k", fingerprint="a", work=failing)
    assert not IdempotencyRecord.objects.exists()
    _, work = _counter()
    assert run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work).body == {
        "n": 1
    }


def test_run_idempotently_expired_key_runs_again(workspace):
    calls, work = _counter()
    run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))
    assert not run_idempotently(workspace=workspace, key="k", fingerprint="a", work=work).replayed
    assert len(calls) == 2
