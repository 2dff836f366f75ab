"""Security of the operator side: production refuses weak secrets and a missing metrics token,
believes forwarded headers only behind a configured proxy, Flower is neither open nor public,
gunicorn's access log holds no download token, and a new API key never leaves its page."""

import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import requests
import yaml
from django.conf import settings
from django.urls import reverse

from accounts.models import ApiKey
from accounts.services import api_key_authenticate
from tests.helpers import wait_until
from tests.reliability.conftest import count_case

pytestmark = [pytest.mark.reliability]

ROOT = Path(__file__).resolve().parents[2]
STRONG = secrets.token_urlsafe(64)
METRICS_TOKEN = secrets.token_urlsafe(32)
SHOW = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(repr(s.SECURE_PROXY_SSL_HEADER), len(s.SECRET_KEY), len(s.SLUICE_METRICS_TOKEN))"
)


def _production(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """A process on the production profile with only the environment given (and its
    services, which these checks never reach)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SLUICE_", "CELERY_", "FLOWER_"))
    }
    environment = {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": "postgres://sluice@db.invalid:5432/sluice",
        "REDIS_URL": "redis://redis.invalid:6379/0",
        "SLUICE_VAR_DIR": tempfile.mkdtemp(prefix="sluice-prod-"),
        # a secret these tests do not vary (test_privacy_settings.py checks it is required)
        "SLUICE_SUPPRESSION_HASH_KEY": "h" * 40,
        **env,
    }
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=environment, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def _env_example_value(name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", (ROOT / ".env.example").read_text(), re.M)
    assert match, name
    return match.group(1)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- Weak production secrets -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        (_env_example_value("DJANGO_SECRET_KEY"), "is a placeholder"),
        ("insecure-local-demo-key-change-me", "is a placeholder"),
        ("django-insecure-" + "k" * 50, "is a placeholder"),
        ("", "is not set"),
        ("s3cr3t-but-short", "is shorter than 50 characters"),
    ],
    ids=["env-example", "local-default", "django-insecure", "empty", "short"],
)
def test_security_production_refuses_a_weak_secret_key(secret, problem):
    count_case("security: production settings")
    result = _production(["manage.py", "check"], DJANGO_SECRET_KEY=secret,
                         SLUICE_METRICS_TOKEN=METRICS_TOKEN)  # fmt: skip
    assert result.returncode != 0
    assert f"DJANGO_SECRET_KEY {problem}" in result.stderr
    assert secret not in result.stderr or not secret  # the message never repeats the secret


@pytest.mark.parametrize("token", ["", "short-token", None], ids=["empty", "short", "unset"])
def test_security_production_requires_the_metrics_token(token):
    count_case("security: production settings")
    env = {"DJANGO_SECRET_KEY": STRONG}
    if token is not None:
        env["SLUICE_METRICS_TOKEN"] = token
    result = _production(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert "SLUICE_METRICS_TOKEN" in result.stderr


def test_security_production_starts_with_strong_secrets():
    result = _production(["-c", SHOW], DJANGO_SECRET_KEY=STRONG, SLUICE_METRICS_TOKEN=METRICS_TOKEN)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["None", str(len(STRONG)), str(len(METRICS_TOKEN))]


# --- Forwarded headers ---------------------------------------------------------------------------


def test_security_production_trusts_x_forwarded_proto_only_behind_a_proxy():
    count_case("security: production settings", 2)
    secrets_env = {"DJANGO_SECRET_KEY": STRONG, "SLUICE_METRICS_TOKEN": METRICS_TOKEN}
    direct = _production(["-c", SHOW], **secrets_env)
    proxied = _production(["-c", SHOW], SLUICE_TRUSTED_PROXIES="1", **secrets_env)
    assert direct.returncode == proxied.returncode == 0, direct.stderr + proxied.stderr
    # exposed directly (compose's default), a client's own X-Forwarded-Proto means nothing
    assert direct.stdout.split()[0] == "None"
    assert proxied.stdout.split()[0] == "('HTTP_X_FORWARDED_PROTO',"


def test_security_compose_trusts_no_proxy_by_default():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    web = compose["services"]["web"]
    assert web["environment"]["SLUICE_TRUSTED_PROXIES"] == "${SLUICE_TRUSTED_PROXIES:-0}"
    assert "8000:8000" in web["ports"]  # gunicorn itself is what clients reach


# --- Flower --------------------------------------------------------------------------------------


def test_security_compose_flower_requires_basic_auth_and_is_not_public():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    flower = compose["services"]["flower"]
    count_case("security: operator surfaces")
    # published on the host's loopback only
    assert flower["ports"], "Flower must not be published on every interface"
    for port in flower["ports"]:
        assert str(port).startswith("127.0.0.1:"), port
    # basic auth from the environment, required (compose refuses to start without it)
    assert flower["environment"]["FLOWER_BASIC_AUTH"].startswith("${FLOWER_BASIC_AUTH:?")
    assert "--basic-auth" not in " ".join(flower["command"])  # not in `ps` output either
    # every service still gets the production environment
    assert flower["environment"]["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
    # and the metrics token is required for every service
    shared = compose["x-sluice"]["environment"]
    assert shared["SLUICE_METRICS_TOKEN"].startswith("${SLUICE_METRICS_TOKEN:?")


def test_security_flower_with_basic_auth_from_the_environment_refuses_strangers():
    # given Flower started as compose starts it, its credentials in FLOWER_BASIC_AUTH
    port = _free_port()
    log = tempfile.NamedTemporaryFile(prefix="sluice-flower-", suffix=".log", delete=False)  # noqa: SIM115
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("FLOWER_")},
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "REDIS_URL": settings.REDIS_URL,
        "FLOWER_BASIC_AUTH": "operator:a-long-flower-password",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "flower", f"--port={port}",
         "--address=127.0.0.1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(Path(log.name).read_text(errors="replace")[-3000:])
        try:
            return requests.get(f"{base}/healthcheck", timeout=1).status_code == 200
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.2)
        # then strangers are refused on the dashboard, the task list and the API
        for path in ("/", "/tasks", "/api/tasks", "/api/workers"):
            count_case("security: operator surfaces")
            assert requests.get(base + path, timeout=10).status_code == 401, path
            wrong = requests.get(base + path, auth=("operator", "guess"), timeout=10)
            assert wrong.status_code == 401, path
        right = requests.get(
            f"{base}/tasks", auth=("operator", "a-long-flower-password"), timeout=10
        )
        assert right.status_code == 200
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


# --- gunicorn's access log ---------------------------------------------------------------------


def test_security_compose_and_image_run_gunicorn_with_its_config_file():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["web"]["command"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    cmd = re.search(r"^CMD (.*)$", dockerfile, re.M).group(1)
    for line in (" ".join(command), cmd):
        assert re.search(r"-c[\", ]+config/gunicorn\.py", line), line
        # nothing on the command line overrides the file's log settings
        assert "--access-log" not in line, line


def test_security_gunicorn_access_log_leaves_out_download_tokens(tmp_path):
    # given gunicorn started with the project's config file
    port = _free_port()
    log_path = tmp_path / "gunicorn.log"
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.test"}
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.py",
             "--bind", f"127.0.0.1:{port}", "--workers", "1", "config.wsgi:application"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    token = "tok-" + secrets.token_urlsafe(24)
    path = "/api/v2/export/csv/download/6a0e4cc2-1111-4222-8333-944455556666"

    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(log_path.read_text(errors="replace")[-3000:])
        try:
            requests.get(f"{base}/nowhere", timeout=30)  # the first loads Django
            return True
        except requests.ConnectionError:
            return False

    try:
        wait_until(up, timeout=60, interval=0.2)
        # when a download link is followed
        response = requests.get(f"{base}{path}", params={"token": token}, timeout=10)
        assert response.status_code == 404
        access_line = wait_until(
            lambda: next(
                (ln for ln in log_path.read_text().splitlines() if f'"GET {path}' in ln), None
            ),
            timeout=10,
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()

    # then the access log has the request, without its query string
    count_case("security: access log")
    assert f'"GET {path} HTTP/1.1" 404 ' in access_line
    assert token not in log_path.read_text()
    assert "token=" not in log_path.read_text()


# --- A new API key in the admin ----------------------------------------------------------------


@pytest.mark.django_db
def test_security_admin_new_key_is_shown_on_its_page_never_in_a_cookie(admin_client, workspace):
    # when a key is created in the admin
    response = admin_client.post(
        reverse("admin:accounts_apikey_add"),
        {"workspace": workspace.pk, "name": "ci", "scopes": ["lists:read"]},
    )

    # then it is shown on the response itself, not after a redirect, and never cached
    assert response.status_code == 200, response.status_code
    count_case("security: keys")
    api_key = ApiKey.objects.get(name="ci")
    raw_key = re.search(r"clapi_[A-Za-z0-9_-]{40,}", response.content.decode()).group(0)
    assert api_key_authenticate(raw_key=raw_key) == api_key
    assert "no-store" in response["Cache-Control"]
    # no cookie carries it to a later request (the messages cookie is not even written)
    morsel = response.cookies.get("messages")
    assert morsel is None or morsel.value == ""
    assert all(raw_key not in m.value for m in response.cookies.values())
    # and the next page does not show it again
    following = admin_client.get(reverse("admin:accounts_apikey_changelist"))
    assert raw_key not in following.content.decode()
    assert list(following.context["messages"]) == []
