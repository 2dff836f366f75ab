"""The settings profiles (config/settings): which one each entry point uses, what each one
chooses, and that the shared base is never used as a profile."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {".git", ".venv", "venv", "var", "node_modules", "__pycache__", ".ruff_cache"}
TEXT_SUFFIXES = {".py", ".sh", ".yml", ".yaml", ".toml", ".md", ".cfg", ".ini", ".txt", ""}
SHOW = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], "
    "'broker': s.CELERY_BROKER_URL, 'embedded': s.EMBEDDED_MODE, "
    "'cache': s.CACHES['default']['BACKEND'], "
    "'log_format': s.LOGGING['handlers']['console']['formatter']}))"
)


def _repository_files() -> list[Path]:
    files = []
    for path in ROOT.rglob("*"):
        if SKIPPED_DIRS.intersection(path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix in TEXT_SUFFIXES or path.name in ("Dockerfile", "Makefile", "run"):
            files.append(path)
    return files


def _run_python(
    code: str, profile: str, *, cwd: Path = ROOT, **env: str
) -> subprocess.CompletedProcess:
    """`python -c code` in a clean environment: none of this test run's services or profile,
    and no `.env` file unless `SLUICE_ENV_FILE` names one (or the checkout in `cwd` has one)."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SLUICE_", "CELERY_", "TEST_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    no_env_file = {} if cwd != ROOT else {"SLUICE_ENV_FILE": ""}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**inherited, **no_env_file, "DJANGO_SETTINGS_MODULE": profile, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _settings_of(profile: str, **env: str) -> dict:
    result = _run_python(SHOW, profile, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_base_is_never_named_as_the_settings_module():
    naming_base = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in _repository_files()
        if path != Path(__file__)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if "DJANGO_SETTINGS_MODULE" in line and "config.settings.base" in line
    ]
    assert naming_base == []


def test_settings_entry_points_default_to_their_profile():
    def default_in(relative: str) -> str:
        text = (ROOT / relative).read_text()
        return re.search(r'setdefault\("DJANGO_SETTINGS_MODULE", "([\w.]+)"\)', text).group(1)

    assert default_in("manage.py") == "config.settings.local"
    assert default_in("config/celery.py") == "config.settings.local"
    # gunicorn serves production; development serves through manage.py runserver
    assert default_in("config/wsgi.py") == "config.settings.production"
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"DJANGO_SETTINGS_MODULE=config\.settings\.production\b", dockerfile)
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"DJANGO_SETTINGS_MODULE: config\.settings\.production\b", compose)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["tool"]["pytest"]["ini_options"]["DJANGO_SETTINGS_MODULE"] == (
        "config.settings.test"
    )


def test_settings_base_refuses_to_be_the_settings_module(tmp_path):
    result = _run_python(
        "import django; django.setup()", "config.settings.base", SLUICE_VAR_DIR=str(tmp_path)
    )

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "config.settings.local" in result.stderr


def test_settings_local_runs_on_embedded_services_when_nothing_is_set(tmp_path):
    assert _settings_of("config.settings.local", SLUICE_VAR_DIR=str(tmp_path)) == {
        "engine": "django.db.backends.sqlite3",
        "broker": "filesystem://",
        "embedded": True,
        "cache": "django.core.cache.backends.locmem.LocMemCache",
        "log_format": "text",
    }


def test_settings_local_moves_onto_postgresql_and_redis_when_set(tmp_path):
    shown = _settings_of(
        "config.settings.local",
        SLUICE_VAR_DIR=str(tmp_path),
        DATABASE_URL="postgres://sluice@db.invalid:5432/sluice",
        REDIS_URL="redis://redis.invalid:6379/0",
    )

    assert shown["engine"] == "django.db.backends.postgresql"
    assert shown["broker"] == "redis://redis.invalid:6379/0"
    assert shown["embedded"] is False
    assert shown["cache"] == "django.core.cache.backends.redis.RedisCache"


PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "SLUICE_METRICS_TOKEN": "m" * 40,  # production refuses to start without one
    "SLUICE_SUPPRESSION_HASH_KEY": "h" * 40,  # nor without this one
    "DATABASE_URL": "postgres://sluice@db.invalid:5432/sluice",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


@pytest.mark.parametrize("blank", [None, ""], ids=["unset", "empty"])
def test_settings_production_refuses_to_start_without_its_services(tmp_path, blank):
    for missing in ("DATABASE_URL", "REDIS_URL"):
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
        if blank is not None:
            env[missing] = blank  # as a copied .env.example leaves it
        result = _run_python(SHOW, "config.settings.production", **env)
        assert result.returncode != 0, missing
        assert f"Set the {missing} environment variable" in result.stderr


def test_settings_production_logs_json_lines_by_default(tmp_path):
    shown = _settings_of("config.settings.production", **PRODUCTION_ENV)

    assert shown["log_format"] == "json"
    assert (shown["embedded"], shown["broker"]) == (False, PRODUCTION_ENV["REDIS_URL"])


def test_settings_production_log_format_can_still_be_text():
    shown = _settings_of("config.settings.production", SLUICE_LOG_FORMAT="text", **PRODUCTION_ENV)

    assert shown["log_format"] == "text"


SHOW_PROVIDERS = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "print(json.dumps({'email': s.SLUICE_WATERFALL_EMAIL, 'phone': s.SLUICE_WATERFALL_PHONE, "
    "'company': s.SLUICE_WATERFALL_COMPANY, 'verifier': s.SLUICE_VERIFIER}))"
)


def test_settings_production_without_a_waterfall_uses_real_providers_never_the_sandbox():
    result = _run_python(SHOW_PROVIDERS, "config.settings.production", **PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout.strip().splitlines()[-1])
    named = [*shown["email"], *shown["phone"], *shown["company"], shown["verifier"]]
    assert named
    assert not any(name.startswith("sandbox") for name in named)


def test_settings_production_refuses_the_sandbox_in_a_waterfall_or_as_verifier():
    for variable, value in (
        ("SLUICE_WATERFALL_EMAIL", "hunter,prospeo,pdl,sandbox"),
        ("SLUICE_WATERFALL_PHONE", "sandbox_b"),
        ("SLUICE_WATERFALL_COMPANY", "pdl,sandbox"),
        ("SLUICE_VERIFIER", "sandbox"),
    ):
        result = _run_python(SHOW_PROVIDERS, "config.settings.production", **PRODUCTION_ENV,
                             **{variable: value})  # fmt: skip
        assert result.returncode != 0, variable
        assert "ImproperlyConfigured" in result.stderr, variable
        assert "SLUICE_ALLOW_SANDBOX_IN_PRODUCTION=true" in result.stderr, variable


def test_settings_production_takes_the_sandbox_when_explicitly_allowed():
    result = _run_python(
        SHOW_PROVIDERS, "config.settings.production", **PRODUCTION_ENV,
        SLUICE_WATERFALL_EMAIL="hunter,sandbox", SLUICE_VERIFIER="sandbox",
        SLUICE_ALLOW_SANDBOX_IN_PRODUCTION="true",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["email"] == ["hunter", "sandbox"]


def test_settings_local_and_test_keep_the_offline_sandbox_by_default(tmp_path):
    for profile in ("config.settings.local", "config.settings.test"):
        result = _run_python(SHOW_PROVIDERS, profile, SLUICE_VAR_DIR=str(tmp_path))
        assert result.returncode == 0, result.stderr
        shown = json.loads(result.stdout.strip().splitlines()[-1])
        assert (shown["email"], shown["verifier"]) == (["sandbox"], "sandbox"), profile


SHOW_SERVICES = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from celery import current_app; from config.celery import app; "
    "db = s.DATABASES['default']; "
    "print(json.dumps({'database': f\"{db['HOST']}:{db['PORT']}/{db['NAME']}\", "
    "'redis': s.REDIS_URL, 'broker': s.CELERY_BROKER_URL, "
    "'celery_broker': app.conf.broker_url, 'cache': s.CACHES['default'].get('LOCATION')}))"
)
# What a shell holds when it also runs the stack (or uses its Redis for something else).
STACK_ENV = {
    "DATABASE_URL": "postgres://sluice:sluice@127.0.0.1:5432/sluice",
    "REDIS_URL": "redis://127.0.0.1:6379/7",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/8",
}


def test_settings_test_ignores_the_stacks_database_and_redis():
    # given the stack's variables exported and no TEST_* ones
    shown = _settings_with(SHOW_SERVICES, "config.settings.test", **STACK_ENV)

    # then the suite resolves to its own loopback defaults, Celery included
    assert shown == {
        "database": "127.0.0.1:5432/test",
        "redis": "redis://127.0.0.1:6379/1",
        "broker": "redis://127.0.0.1:6379/1",
        "celery_broker": "redis://127.0.0.1:6379/1",
        "cache": "redis://127.0.0.1:6379/1",
    }


def test_settings_test_uses_its_own_variables():
    shown = _settings_with(
        SHOW_SERVICES, "config.settings.test", **STACK_ENV,
        TEST_DATABASE_URL="postgres://postgres@127.0.0.1:5432/ci",
        TEST_REDIS_URL="redis://127.0.0.1:6379/3",
    )  # fmt: skip

    assert shown["database"] == "127.0.0.1:5432/ci"
    assert shown["redis"] == shown["broker"] == shown["celery_broker"] == "redis://127.0.0.1:6379/3"


def _settings_with(code: str, profile: str, **env: str) -> dict:
    result = _run_python(code, profile, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])
