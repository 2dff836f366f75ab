"""Opaque, tamper-evident keyset cursors.

A cursor is the signed position after the last row of a page, so pages stay stable while rows
are added or removed elsewhere in the list. A malformed or forged cursor is a 400, never a
silent rewind to the first page.
"""

from typing import Any

from django.core import signing

from common.exceptions import ValidationFailed

_SALT = "sluice.cursor"


def encode_cursor(position: dict[str, Any]) -> str:
    return signing.dumps(position, salt=_SALT, compress=True)


def decode_cursor(cursor: str | None, *, kind: str) -> dict[str, Any] | None:
    """Returns the position, or None for the first page. `kind` stops a cursor of one
    listing from being replayed against another."""
    if not cursor:
        return None
    try:
        position = signing.loads(cursor, salt=_SALT)
    except signing.BadSignature:
        raise ValidationFailed(details={"cursor": ["Invalid cursor."]}) from None
    if not isinstance(position, dict) or position.get("kind") != kind:
        raise ValidationFailed(details={"cursor": ["Invalid cursor."]})
    return position


def make_cursor(*, kind: str, **position: Any) -> str:
    return encode_cursor({"kind": kind, **position})
