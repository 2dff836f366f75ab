"""Importing settings creates no folder; the processes that write into one create it when they
start (config/runtime.py)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SETUP = "import django; django.setup(); from django.conf import settings; settings.DATABASES"
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "SLUICE_METRICS_TOKEN": "m" * 40,  # production refuses to start without one
    "SLUICE_SUPPRESSION_HASH_KEY": "h" * 40,  # nor without this one
    "DATABASE_URL": "postgres://sluice@db.invalid:5432/sluice",
    "REDIS_URL": "redis://redis.invalid:6379/0",
}


def _run(args: list[str], profile: str, var: Path, **env: str) -> None:
    inherited = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SLUICE_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    result = subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": profile,
            "SLUICE_VAR_DIR": str(var),
            "SLUICE_ENV_FILE": "",  # no developer's `.env`
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def _tree(var: Path) -> set[str]:
    return {str(path.relative_to(var)) for path in var.rglob("*") if path.is_dir()}


@pytest.mark.parametrize(
    ("profile", "env"),
    [
        ("config.settings.local", {}),
        ("config.settings.production", PRODUCTION_ENV),
        ("config.settings.test", {}),
    ],
)
def test_runtime_dirs_settings_import_creates_no_folder(tmp_path, profile, env):
    var = tmp_path / "var"

    _run(["-c", SETUP], profile, var, **env)

    assert not var.exists()


def test_runtime_dirs_manage_py_creates_the_embedded_folders(tmp_path):
    var = tmp_path / "var"

    _run(["manage.py", "check"], "config.settings.local", var)

    assert _tree(var) == {
        "uploads", "broker", "broker/queue", "broker/processed", "broker/control",
    }  # fmt: skip


def test_runtime_dirs_wsgi_creates_the_upload_folder(tmp_path):
    var = tmp_path / "var"

    _run(["-c", "import config.wsgi"], "config.settings.production", var, **PRODUCTION_ENV)

    # on PostgreSQL and Redis: no SQLite folder, no broker folders
    assert _tree(var) == {"uploads"}


def test_runtime_dirs_celery_app_creates_the_broker_folders_when_configured(tmp_path):
    var = tmp_path / "var"
    configure = "from config.celery import app; app.conf.broker_url"

    _run(["-c", configure], "config.settings.local", var)

    assert _tree(var) == {"broker", "broker/queue", "broker/processed", "broker/control"}


def test_runtime_dirs_celery_app_on_redis_creates_only_beats_folder(tmp_path):
    var = tmp_path / "var"
    configure = "from config.celery import app; app.conf.broker_url"

    _run(["-c", configure], "config.settings.local", var, REDIS_URL="redis://redis.invalid:6379/0")

    assert var.is_dir()
    assert _tree(var) == set()
