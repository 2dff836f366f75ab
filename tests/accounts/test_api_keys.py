import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import ApiKey, Workspace
from accounts.services import (
    ActiveKeyLimitReached,
    api_key_authenticate,
    api_key_create,
    api_key_revoke,
)
from tests.factories import ApiKeyFactory

pytestmark = pytest.mark.django_db


def test_api_key_create_stores_only_a_hash(workspace):
    api_key, raw_key = api_key_create(workspace=workspace, scopes=["lists:read"])
    assert raw_key.startswith("clapi_")
    assert raw_key.startswith(api_key.prefix)
    assert api_key.last4 == raw_key[-4:]
    assert api_key.secret_hash == hashlib.sha256(raw_key.encode()).hexdigest()
    stored = ApiKey.objects.filter(pk=api_key.pk).values()[0]
    assert raw_key not in {str(v) for v in stored.values()}


def test_api_key_authenticate_rejects_wrong_secret_with_right_prefix(workspace):
    api_key, raw_key = api_key_create(workspace=workspace, scopes=["lists:read"])
    tampered = raw_key[:-1] + ("A" if raw_key[-1] != "A" else "B")
    assert api_key_authenticate(raw_key=tampered) is None
    assert api_key_authenticate(raw_key=api_key.prefix) is None
    assert api_key_authenticate(raw_key=raw_key) == api_key


def test_api_key_authenticate_touches_last_used_at_at_most_once_a_minute(workspace):
    api_key, raw_key = api_key_create(workspace=workspace, scopes=["lists:read"])
    first = api_key_authenticate(raw_key=raw_key).last_used_at
    assert first is not None
    assert api_key_authenticate(raw_key=raw_key).last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(minutes=5))
    assert api_key_authenticate(raw_key=raw_key).last_used_at > first - timedelta(seconds=1)


def test_api_key_create_refuses_an_eleventh_active_key(workspace):
    keys = [ApiKeyFactory(workspace=workspace) for _ in range(10)]
    with pytest.raises(ActiveKeyLimitReached):
        api_key_create(workspace=workspace, scopes=["lists:read"])
    api_key_revoke(api_key=keys[0])
    api_key_create(workspace=workspace, scopes=["lists:read"])


def test_api_key_revoke_is_idempotent(workspace):
    api_key = ApiKeyFactory(workspace=workspace)
    revoked_at = api_key_revoke(api_key=api_key).revoked_at
    assert revoked_at is not None
    assert api_key_revoke(api_key=api_key).revoked_at == revoked_at
    assert api_key_authenticate(raw_key=api_key.raw_key) is None


def test_commands_create_workspace_and_key_print_the_key_once():
    out = StringIO()
    call_command("create_workspace", "Acme", stdout=out)
    workspace = Workspace.objects.get(pk=out.getvalue().strip())
    out = StringIO()
    call_command("create_api_key", "--workspace", "Acme", "--scopes", "lists:read", stdout=out)
    raw_key = out.getvalue().strip()
    assert api_key_authenticate(raw_key=raw_key).workspace == workspace
    with pytest.raises(CommandError, match="Unknown scopes"):
        call_command("create_api_key", "--workspace", "Acme", "--scopes", "root")
    with pytest.raises(CommandError, match="No workspace"):
        call_command("create_api_key", "--workspace", "nope")


def test_api_keys_endpoint_lists_metadata_never_secrets(api, make_client, workspace, other_api):
    # given two keys here and one in another workspace
    make_client(workspace, scopes=["lists:read"])
    # when
    response = api.get("/api/v2/api-keys")
    # then
    assert response.status_code == 200
    keys = response.json()["keys"]
    assert len(keys) == 2
    assert {"key_id", "key_prefix", "key_last4", "scopes", "is_active"} <= set(keys[0])
    assert api.api_key.raw_key not in response.content.decode()
    assert "secret_hash" not in keys[0]
    assert str(other_api.api_key.pk) not in response.content.decode()


def test_admin_creates_key_shown_once_and_revokes(admin_client, workspace):
    response = admin_client.post(
        "/admin/accounts/apikey/add/",
        {"workspace": workspace.pk, "name": "ci", "scopes": ["lists:read", "enrich:read"]},
        follow=True,
    )
    assert response.status_code == 200
    api_key = ApiKey.objects.get(name="ci")
    shown = [str(m) for m in response.context["messages"]]
    raw_key = next(m.split(": ")[-1] for m in shown if "shown once" in m)
    assert api_key_authenticate(raw_key=raw_key) == api_key
    page = admin_client.get(f"/admin/accounts/apikey/{api_key.pk}/change/")
    assert raw_key not in page.content.decode()
    admin_client.post(
        "/admin/accounts/apikey/",
        {"action": "revoke_keys", "_selected_action": [str(api_key.pk)]},
    )
    api_key.refresh_from_db()
    assert not api_key.is_active
    assert api_key.revoked_at <= timezone.now()
