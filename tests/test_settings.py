"""The settings profiles (config/settings): which one each entry point uses, what each one
chooses, and that the shared base is never used as a profile."""

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

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


def _run_python(code: str, profile: str, **env: str) -> subprocess.CompletedProcess:
    """`python -c code` in a clean environment: none of this test run's services or profile."""
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SLUICE_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**inherited, "DJANGO_SETTINGS_MODULE": profile, **env},
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
    "DATABASE_URL": "postgres://sluice@db.invalid:5432/sluice",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def test_settings_production_refuses_to_start_without_its_services(tmp_path):
    for missing in ("DATABASE_URL", "REDIS_URL"):
        env = {k: v for k, v in PRODUCTION_ENV.items() if k != missing}
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
