"""Idempotency keys with Stripe's semantics, for every POST that creates work or spends credits.

Scoped to the workspace, kept 24 h. The same key with the same request (fingerprint) replays the
first response without doing the work again; the same key with another request, or while the
first is still running, is a 409 `idempotency_conflict`.

Claim, then work, then store: the claim commits before the work starts, the work runs outside
any transaction of ours (it owns its transactions and may call the network between them), and
the response is stored once it succeeded. Work that fails releases the key so a retry can run.
A process that dies between the work and the store leaves its claim in flight: after
`_ABANDONED_AFTER` a retry takes it over and runs the work again, which every caller tolerates
(a person start finds the run it already made, a bulk or task start's quote is single-use, an
import merges rows it already wrote).
"""

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from common.exceptions import IdempotencyConflict, ValidationFailed
from common.models import IdempotencyRecord

RETENTION = timedelta(hours=24)
_ABANDONED_AFTER = timedelta(minutes=5)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True)
class IdempotentResult:
    status_code: int
    body: dict[str, Any]
    replayed: bool


def request_fingerprint(*, operation: str, payload: Any) -> str:
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{operation}\n{canonical}".encode()).hexdigest()


def validate_key(key: str | None) -> str | None:
    if key is None or key == "":
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed(
            details={"idempotency_key": [f"At most {MAX_KEY_LENGTH} printable characters."]}
        )
    return key


def _claim(*, workspace: Model, key: str, fingerprint: str) -> IdempotentResult | None:
    """Claims the key; returns the finished result to replay, or None when we now own it."""
    now = timezone.now()
    while True:
        try:
            with transaction.atomic():
                IdempotencyRecord.objects.create(
                    workspace_id=workspace.pk, key=key, fingerprint=fingerprint, locked_at=now
                )
            return None
        except IntegrityError:
            pass
        record = IdempotencyRecord.objects.filter(workspace_id=workspace.pk, key=key).first()
        if record is None:
            continue  # expired and deleted between our insert and read: claim again
        if record.created_at < now - RETENTION:
            IdempotencyRecord.objects.filter(pk=record.pk, created_at=record.created_at).delete()
            continue
        if record.fingerprint != fingerprint:
            raise IdempotencyConflict(
                "This Idempotency-Key was already used with a different request.",
                details={"idempotency_key": key},
            )
        if record.status_code is not None:
            # Stored with its status by run_idempotently: the work's JSON object.
            body = cast(dict[str, Any], record.response_body)
            return IdempotentResult(record.status_code, body, replayed=True)
        stale = record.locked_at < now - _ABANDONED_AFTER
        if stale and IdempotencyRecord.objects.filter(
            pk=record.pk, status_code__isnull=True, locked_at=record.locked_at
        ).update(locked_at=now):
            return None
        raise IdempotencyConflict(
            "A request with this Idempotency-Key is still in flight; retry shortly.",
            details={"idempotency_key": key},
        )


def run_idempotently(
    *,
    workspace: Model,
    key: str | None,
    fingerprint: str,
    work: Callable[[], tuple[int, dict[str, Any]]],
) -> IdempotentResult:
    """Runs `work` (which returns status and JSON body) at most once per key."""
    if key is None:
        status_code, body = work()
        return IdempotentResult(status_code, body, replayed=False)
    finished = _claim(workspace=workspace, key=key, fingerprint=fingerprint)
    if finished is not None:
        return finished
    try:
        status_code, body = work()
    except BaseException:
        # The client gets an error, not a stored response: release the key so its retry can
        # run. The work undid what it had done (rolled back, or its own failure path after a
        # commit, such as a refused enqueue releasing its hold).
        IdempotencyRecord.objects.filter(workspace_id=workspace.pk, key=key).delete()
        raise
    IdempotencyRecord.objects.filter(workspace_id=workspace.pk, key=key).update(
        status_code=status_code, response_body=body
    )
    return IdempotentResult(status_code, body, replayed=False)


def purge_expired() -> int:
    deleted, _ = IdempotencyRecord.objects.filter(
        created_at__lt=timezone.now() - RETENTION
    ).delete()
    return deleted
