"""The README's own step, `cp .env.example .env`, in a copy of this checkout: the demo's profile
keeps its embedded services, the test profile its own defaults, and the stack's production
profile (with what docker-compose.yml adds) serves plain HTTP without the sandbox."""

import json
import shutil
from pathlib import Path

import pytest

from tests.test_settings import ROOT, _run_python

SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'engine': db['ENGINE'].rsplit('.', 1)[-1], 'database': str(db['NAME']), "
    "'redis': s.REDIS_URL, 'broker': s.CELERY_BROKER_URL.split('://')[0], "
    "'embedded': s.EMBEDDED_MODE, 'waterfall_email': s.SLUICE_WATERFALL_EMAIL, "
    "'verifier': s.SLUICE_VERIFIER, 'rate_limit': s.SLUICE_RATE_LIMIT_PER_KEY, "
    "'ssl_redirect': getattr(s, 'SECURE_SSL_REDIRECT', None)}))"
)
# What docker-compose.yml's `environment:` sets on top of the env file.
COMPOSE_ENV = {
    "DATABASE_URL": "postgres://sluice:sluice@postgres:5432/sluice",
    "REDIS_URL": "redis://redis:6379/0",
}
COPIED = (".git", ".venv", "venv", "var", ".env", "__pycache__", "*.egg-info", ".*_cache")


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> Path:
    """A copy of this checkout whose `.env` is `.env.example`, as the README says to make it."""
    target = tmp_path_factory.mktemp("checkout") / "sluice"
    shutil.copytree(ROOT, target, ignore=shutil.ignore_patterns(*COPIED))
    shutil.copy(target / ".env.example", target / ".env")
    return target


def _settings(checkout: Path, profile: str, **env: str) -> dict:
    result = _run_python(SHOW, profile, cwd=checkout, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_env_example_leaves_the_demo_on_its_embedded_services(checkout):
    shown = _settings(checkout, "config.settings.local")

    assert shown["engine"] == "sqlite3"
    assert shown["database"] == str(checkout / "var" / "sluice.sqlite3")
    assert (shown["redis"], shown["broker"], shown["embedded"]) == ("", "filesystem", True)


def test_env_example_does_not_steer_the_test_settings(checkout):
    shown = _settings(checkout, "config.settings.test")

    # the suite's defaults, not the stack's database, Redis, providers or request limits
    assert (shown["engine"], shown["database"]) == ("postgresql", "test")
    assert shown["redis"] == "redis://127.0.0.1:6379/1"
    assert (shown["waterfall_email"], shown["verifier"]) == (["sandbox"], "sandbox")
    assert shown["rate_limit"] == "100000/min"


def test_env_example_gives_the_compose_stack_plain_http_and_no_sandbox(checkout):
    # the secrets production refuses to start without, filled in as operations.md asks
    secrets = {"DJANGO_SECRET_KEY": "k" * 64, "SLUICE_METRICS_TOKEN": "m" * 40,
               "SLUICE_SUPPRESSION_HASH_KEY": "h" * 40}  # fmt: skip
    shown = _settings(checkout, "config.settings.production", **COMPOSE_ENV, **secrets)

    assert shown["ssl_redirect"] is False
    assert shown["database"] == "sluice"
    assert not any(name.startswith("sandbox") for name in [*shown["waterfall_email"],
                                                            shown["verifier"]])  # fmt: skip


def test_env_example_suggests_no_sandbox_and_no_stack_services():
    values = dict(
        line.split("=", 1)
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )

    providers = ("SLUICE_WATERFALL_EMAIL", "SLUICE_WATERFALL_PHONE", "SLUICE_WATERFALL_COMPANY")
    assert not [key for key in providers if "sandbox" in values[key]]
    assert "sandbox" not in values["SLUICE_VERIFIER"]
    assert values["SLUICE_ALLOW_SANDBOX_IN_PRODUCTION"] == "false"
    assert values["DATABASE_URL"] == values["REDIS_URL"] == ""
    assert values["DJANGO_SECURE_SSL_REDIRECT"] == "false"
