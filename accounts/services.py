import hashlib
import hmac
import secrets
import string
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import ApiKey, ApiUsage, Workspace
from common.exceptions import Conflict

KEY_PREFIX = "clapi_"
_PUBLIC_ID_LENGTH = 8
_SECRET_BYTES = 32
_ALPHANUMERIC = string.ascii_letters + string.digits
# last_used_at is informational: writing it on every request would turn each read into a write.
_LAST_USED_RESOLUTION = timedelta(seconds=60)


class ActiveKeyLimitReached(Conflict):
    code = "api_key_limit_reached"
    default_message = "This workspace already has the maximum number of active API keys."


def workspace_create(*, name: str, tier: str = "self_hosted") -> Workspace:
    return Workspace.objects.create(name=name, tier=tier)


def _hash_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, workspace: Workspace, scopes: list[str], name: str = ""
) -> tuple[ApiKey, str]:
    """Returns the key and its secret; the secret is never stored and cannot be shown again."""
    # Serialise key creation per workspace so two concurrent calls cannot both pass the limit.
    Workspace.objects.select_for_update().get(pk=workspace.pk)
    limit = settings.SLUICE_MAX_ACTIVE_KEYS_PER_WORKSPACE
    if ApiKey.objects.filter(workspace=workspace, is_active=True).count() >= limit:
        raise ActiveKeyLimitReached(
            f"A workspace holds at most {limit} active API keys; revoke one first.",
            details={"limit": limit},
        )
    public_id = "".join(secrets.choice(_ALPHANUMERIC) for _ in range(_PUBLIC_ID_LENGTH))
    raw_key = f"{KEY_PREFIX}{public_id}{secrets.token_urlsafe(_SECRET_BYTES)}"
    api_key = ApiKey.objects.create(
        workspace=workspace,
        name=name,
        prefix=f"{KEY_PREFIX}{public_id}",
        last4=raw_key[-4:],
        secret_hash=_hash_key(raw_key),
        scopes=list(scopes),
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Idempotent: revoking a revoked key changes nothing."""
    ApiKey.objects.filter(pk=api_key.pk, is_active=True).update(
        is_active=False, revoked_at=timezone.now(), updated_at=timezone.now()
    )
    api_key.refresh_from_db()
    return api_key


def api_key_authenticate(*, raw_key: str) -> ApiKey | None:
    """The active key matching `raw_key`, or None. Looked up by its public prefix, then the
    hash is compared in constant time."""
    prefix_length = len(KEY_PREFIX) + _PUBLIC_ID_LENGTH
    if not raw_key.startswith(KEY_PREFIX) or len(raw_key) <= prefix_length:
        return None
    api_key = (
        ApiKey.objects.select_related("workspace")
        .filter(prefix=raw_key[:prefix_length], is_active=True)
        .first()
    )
    if api_key is None or not hmac.compare_digest(api_key.secret_hash, _hash_key(raw_key)):
        return None
    now = timezone.now()
    if api_key.last_used_at is None or now - api_key.last_used_at > _LAST_USED_RESOLUTION:
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
        api_key.last_used_at = now
    return api_key


def _route_of(request: HttpRequest) -> str:
    """The URL pattern without the API prefix (`lead-lists/<uuid:list_id>`), so both prefixes
    and every list id land in one bucket."""
    match = getattr(request, "resolver_match", None)
    if match is None or not match.route:
        return "<unmatched>"
    route = match.route
    for prefix in ("api/v1/public/", "api/v2/"):
        if route.startswith(prefix):
            return route[len(prefix) :]
    return route


def usage_record(*, api_key: ApiKey, request: HttpRequest, response: HttpResponse) -> None:
    table = ApiUsage._meta.db_table
    # One statement, no read: INSERT … ON CONFLICT works on PostgreSQL and SQLite alike.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table}
                (workspace_id, api_key_id, day, method, route, status_code, error_code, calls)
            VALUES (%s, %s, %s, %s, %s, %s, %s, 1)
            ON CONFLICT (api_key_id, day, method, route, status_code, error_code)
            DO UPDATE SET calls = {table}.calls + 1
            """,  # noqa: S608 - the table name is ours; every value is a parameter
            [
                api_key.workspace_id.hex if connection.vendor == "sqlite" else api_key.workspace_id,
                api_key.pk.hex if connection.vendor == "sqlite" else api_key.pk,
                timezone.now().date(),
                (request.method or "")[: ApiUsage._meta.get_field("method").max_length],
                _route_of(request)[:200],
                response.status_code,
                getattr(response, "error_code", ""),
            ],
        )
