"""Security: tenancy (another workspace's objects are 404 of every kind), API keys (never logged,
never shown again, compared in constant time), signed links and quotes, the admin, production
settings. The scope-by-endpoint matrix and the 401s live in tests/accounts/test_scopes.py."""

import hmac
import logging
import os
import secrets
import subprocess
import sys
from importlib import import_module
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib import admin
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import ApiKey
from credits.services import credits_grant
from tests.helpers import assert_error
from tests.leads.factories import LeadListFactory
from tests.reliability.conftest import count_case

pytestmark = [pytest.mark.reliability, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def victim(make_client, other_workspace):
    """Another workspace holding one object of every kind, and its client."""
    credits_grant(workspace=other_workspace, amount=100_000, reason="test", reference="victim")
    client = make_client(other_workspace)
    lead_list = LeadListFactory(workspace=other_workspace, lead_count=3)
    list_id = str(lead_list.id)
    page = client.get(f"/api/v2/lead-lists/{list_id}/leads").json()
    workflow = client.post(
        "/api/v2/enrichment/person", {"lead_list_id": list_id, "email": "ceo@victim.example"}
    ).json()
    quote = client.post("/api/v2/credits/estimate", {"tool": "enrich_list", "list_id": list_id})
    webhook = client.post("/api/v2/webhooks", {"url": "https://victim.example/hook"}).json()
    export = client.post("/api/v2/export/csv/signed-url", {"list_id": list_id}).json()
    return {
        "client": client,
        "list_id": list_id,
        "lead_ids": [lead["lead_id"] for lead in page["leads"]],
        "task_id": page["task_id"],
        "workflow_id": workflow["workflow_id"],
        "quote_id": quote.json()["quote_id"],
        "webhook_id": webhook["webhook_id"],
        "download_url": export["download_url"],
    }


def test_security_other_workspaces_objects_are_404_of_every_kind(api, workspace, victim):
    own_list = str(LeadListFactory(workspace=workspace).id)
    v = victim
    owner = v["client"]
    lead_count = owner.get(f"/api/v2/lead-lists/{v['list_id']}").json()["lead_count"]
    attempts = [
        ("get", f"/api/v2/lead-lists/{v['list_id']}", None),
        ("patch", f"/api/v2/lead-lists/{v['list_id']}", {"name": "mine now"}),
        ("delete", f"/api/v2/lead-lists/{v['list_id']}", None),
        ("get", f"/api/v2/lead-lists/{v['list_id']}/leads", None),
        ("post", f"/api/v2/lead-lists/{v['list_id']}/leads", {"lead_ids": v["lead_ids"]}),
        ("delete", f"/api/v2/lead-lists/{v['list_id']}/leads", {"lead_ids": v["lead_ids"]}),
        (
            "post",
            f"/api/v2/lead-lists/{v['list_id']}/csv-import",
            {"csv_content_base64": "ZW1haWwKYUBiLmNvbQo=", "dispatch_enrichment": False},
        ),
        ("get", "/api/v2/export/json", {"list_id": v["list_id"]}),
        ("post", "/api/v2/export/csv/signed-url", {"list_id": v["list_id"]}),
        ("post", "/api/v2/search/people", {"list_id": v["list_id"]}),
        ("post", f"/api/v2/lead-lists/{own_list}/leads", {"task_id": v["task_id"]}),
        ("post", "/api/v2/enrichment/by-task", {"task_id": v["task_id"], "data_points": ["Email"]}),
        ("post", "/api/v2/credits/estimate", {"tool": "enrich_task", "task_id": v["task_id"]}),
        ("post", "/api/v2/credits/estimate", {"tool": "enrich_list", "list_id": v["list_id"]}),
        ("post", "/api/v2/enrichment/bulk", {"list_id": v["list_id"], "quote_id": "qte_x"}),
        ("post", "/api/v2/enrichment/person", {"lead_list_id": v["list_id"], "email": "a@b.co"}),
        ("get", f"/api/v2/enrichment/status/{v['workflow_id']}", None),
        ("get", f"/api/v2/enrichment/status/{v['task_id']}", None),
        ("get", f"/api/v2/enrichment/{v['workflow_id']}/items", None),
        ("post", f"/api/v2/enrichment/{v['workflow_id']}/cancel", None),
        ("delete", f"/api/v2/webhooks/{v['webhook_id']}", None),
    ]
    for method, path, body in attempts:
        count_case("security: cross-workspace")
        response = getattr(api, method)(path, body)
        assert_error(response, 404, "not_found")
    # nothing of theirs moved: the list, its leads, the workflow, the webhook are intact
    assert owner.get(f"/api/v2/lead-lists/{v['list_id']}").json()["lead_count"] == lead_count
    status = owner.get(f"/api/v2/enrichment/status/{v['workflow_id']}").json()
    assert status["status"] != "cancelled"
    assert [w["webhook_id"] for w in owner.get("/api/v2/webhooks").json()["webhooks"]] == [
        v["webhook_id"]
    ]


def test_security_other_workspaces_ids_inside_bodies_are_ignored_or_refused(api, workspace, victim):
    credits_grant(workspace=workspace, amount=1000, reason="test", reference="own")
    own_list = str(LeadListFactory(workspace=workspace, lead_count=2).id)
    # their lead ids added to my list: counted unknown, never added
    added = api.post(f"/api/v2/lead-lists/{own_list}/leads", {"lead_ids": victim["lead_ids"]})
    assert added.status_code == 200, added.content
    assert (added.json()["added"], added.json()["skipped_unknown"]) == (0, 3)
    # their quote paying for my bulk run: looks like an unknown quote
    body = {"list_id": own_list, "quote_id": victim["quote_id"]}
    assert_error(api.post("/api/v2/enrichment/bulk", body), 409, "quote_mismatch")
    # the ledger and the job list show only my own entries
    ledger = api.get("/api/v2/credits/ledger", {"workflow_id": victim["workflow_id"]}).json()
    assert ledger["entries"] == []
    kinds = {entry["kind"] for entry in api.get("/api/v2/credits/ledger").json()["entries"]}
    assert kinds == {"grant"}
    assert api.get("/api/v2/enrichment/jobs").json()["jobs"] == []
    assert api.get("/api/v2/lead-lists").json()["total"] == 1
    assert api.get("/api/v2/webhooks").json()["webhooks"] == []


def test_security_export_link_is_bound_to_its_file_token_and_time(client, victim, settings):
    url = urlsplit(victim["download_url"])
    good = client.get(f"{url.path}?{url.query}")
    assert good.status_code == 200
    token = url.query.removeprefix("token=")
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    for query in (f"token={flipped}", "token=", "", f"token={token}x", "token=" + "A" * 5000):
        count_case("security: signed links")
        assert_error(client.get(f"{url.path}?{query}"), 404, "not_found")
    # expired
    settings.SLUICE_EXPORT_URL_TTL_SECONDS = -1
    expired = victim["client"].post("/api/v2/export/csv/signed-url", {"list_id": victim["list_id"]})
    url = urlsplit(expired.json()["download_url"])
    assert_error(client.get(f"{url.path}?{url.query}"), 410, "link_expired")


def test_security_quote_signature_rejects_tampering_and_expiry(victim, settings):
    owner = victim["client"]
    quote_id = victim["quote_id"]
    prefix, _, signature = quote_id.rpartition("_")
    tampered = [
        f"{prefix}_{signature[:-1]}{'0' if signature[-1] != '0' else '1'}",
        f"{prefix}_",
        quote_id.replace("_k0_", "_k9_"),
        quote_id[:-4],
        quote_id + "00",
    ]
    issued = quote_id.split("_")[2]
    tampered.append(quote_id.replace(f"_{issued}_", f"_{int(issued) + 1}_"))
    for forged in tampered:
        count_case("security: quotes")
        body = {"list_id": victim["list_id"], "quote_id": forged}
        assert_error(owner.post("/api/v2/enrichment/bulk", body), 409, "quote_mismatch")
    # expired
    settings.SLUICE_QUOTE_TTL_SECONDS = 0
    stale = owner.post(
        "/api/v2/credits/estimate", {"tool": "enrich_list", "list_id": victim["list_id"]}
    ).json()["quote_id"]
    body = {"list_id": victim["list_id"], "quote_id": stale}
    assert_error(owner.post("/api/v2/enrichment/bulk", body), 409, "quote_expired")
    # the genuine quote still pays (nothing above consumed it)
    settings.SLUICE_QUOTE_TTL_SECONDS = 300
    body = {"list_id": victim["list_id"], "quote_id": quote_id}
    assert owner.post("/api/v2/enrichment/bulk", body).status_code == 202


# --- API keys ------------------------------------------------------------------------------


def _log_text(records: list[logging.LogRecord]) -> str:
    return "\n".join(f"{r.getMessage()} {vars(r)}" for r in records)


def test_security_keys_are_never_logged(api, caplog):
    raw_key = api.api_key.raw_key
    caplog.set_level(logging.DEBUG)
    # given authenticated requests, failing ones and a key sent where it does not belong
    api.get("/api/v2/whoami")
    api.get("/api/v2/lead-lists", {"cursor": "garbage"})
    api.post("/api/v2/credits/estimate", {"tool": "nope"})
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {raw_key}x")
    assert wrong.get("/api/v2/whoami").status_code == 401
    api.get("/api/v2/nowhere")
    count_case("security: keys", 5)
    # then the raw key appears in no log record, and the request line names only its prefix
    text = _log_text(caplog.records)
    assert raw_key not in text
    assert raw_key[len(api.api_key.prefix) :] not in text
    request_lines = [r for r in caplog.records if r.name == "sluice.request"]
    assert request_lines
    assert any(getattr(r, "key_prefix", None) == api.api_key.prefix for r in request_lines)


def test_security_keys_are_never_returned_after_creation(api, admin_client):
    raw_key = api.api_key.raw_key
    secret = raw_key[len(api.api_key.prefix) :]
    stored_hash = ApiKey.objects.get(pk=api.api_key.pk).secret_hash
    pages = [
        api.get("/api/v2/whoami"),
        api.get("/api/v2/api-keys"),
        admin_client.get(reverse("admin:accounts_apikey_changelist")),
        admin_client.get(reverse("admin:accounts_apikey_change", args=[api.api_key.pk])),
    ]
    for response in pages:
        count_case("security: keys")
        assert response.status_code == 200
        body = response.content.decode()
        assert secret not in body
        assert stored_hash not in body
        assert api.api_key.prefix in body


def test_security_key_hash_is_compared_in_constant_time(api, monkeypatch):
    calls = []
    real = hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("accounts.services.hmac.compare_digest", spy)
    # a right key and a wrong secret behind the right prefix both go through compare_digest
    assert api.get("/api/v2/whoami").status_code == 200
    wrong = APIClient()  # a client's own credentials override per-request headers
    wrong.credentials(HTTP_AUTHORIZATION=f"Bearer {api.api_key.prefix}{'A' * 43}")
    assert_error(wrong.get("/api/v2/whoami"), 401, "unauthorized")
    assert len(calls) == 2
    source = (ROOT / "accounts" / "services.py").read_text()
    assert "hmac.compare_digest(api_key.secret_hash" in source
    assert "secret_hash ==" not in source


# --- Admin ---------------------------------------------------------------------------------

# The URLconf registers the admin's models (config/urls.py); this runs at collection time.
import_module(settings.ROOT_URLCONF)
CHANGELISTS = [
    f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist"
    for model in admin.site._registry
]
assert len(CHANGELISTS) > 10, CHANGELISTS


@pytest.mark.parametrize("name", CHANGELISTS)
def test_security_admin_requires_staff(client, django_user_model, name):
    url = reverse(name)
    count_case("security: admin", 3)
    # anonymous → login
    anonymous = client.get(url)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]
    # a signed-in user who is not staff → login as well
    user = django_user_model.objects.create_user(username="mallory", password="pw")
    client.force_login(user)
    not_staff = client.get(url)
    assert not_staff.status_code in (302, 403)
    if not_staff.status_code == 302:
        assert "/admin/login/" in not_staff["Location"]
    # staff without permissions → 403
    user.is_staff = True
    user.save()
    assert client.get(url).status_code == 403


# --- Production settings -------------------------------------------------------------------


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    # production refuses to start without a metrics token (test_security_hardening.py) and its
    # services (never the suite's own: these are not reached by a check)
    environment.setdefault("SLUICE_METRICS_TOKEN", secrets.token_urlsafe(32))
    environment.setdefault("SLUICE_SUPPRESSION_HASH_KEY", secrets.token_urlsafe(32))
    environment.setdefault("DATABASE_URL", "postgres://sluice@db.invalid:5432/sluice")
    environment.setdefault("REDIS_URL", "redis://redis.invalid:6379/0")
    environment.update(DJANGO_SETTINGS_MODULE="config.settings.production", **env)
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_security_production_refuses_to_start_without_a_secret_key():
    result = _run(["manage.py", "check"])
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


def test_security_production_check_deploy_is_clean_and_debug_off():
    secret = secrets.token_urlsafe(64)
    result = _run(
        ["manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        DJANGO_SECRET_KEY=secret,
        DJANGO_DEBUG="true",  # production ignores it
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    debug = _run(
        ["-c", "import django; django.setup(); from django.conf import settings as s; "
               "print(s.DEBUG, s.SESSION_COOKIE_SECURE, s.SECURE_SSL_REDIRECT)"],
        DJANGO_SECRET_KEY=secret, DJANGO_DEBUG="true",
    )  # fmt: skip
    assert debug.stdout.split() == ["False", "True", "True"], debug.stderr
