"""manage.py on a database it cannot reach: one line that says why (and how to create a
missing one), not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, database_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "DATABASE_URL": database_url,
        "SLUICE_VAR_DIR": str(tmp_path),
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("command", [["migrate"], ["runserver", "127.0.0.1:0", "--noreload"]])
def test_manage_missing_database_is_one_line_naming_createdb(tmp_path, command):
    url = "postgres://postgres@127.0.0.1:5432/sluice_no_such_database"

    result = _manage(*command, database_url=url, tmp_path=tmp_path)

    assert result.returncode == 1
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert errors[0].startswith("manage.py: cannot connect to the database: ")
    assert 'database "sluice_no_such_database" does not exist' in errors[0]
    assert errors[0].endswith(
        "(create it: createdb -h 127.0.0.1 -p 5432 -U postgres sluice_no_such_database)"
    )


def test_manage_server_that_refuses_is_one_line(tmp_path):
    result = _manage("migrate", database_url="postgres://postgres@127.0.0.1:1/x", tmp_path=tmp_path)

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert "cannot connect to the database" in result.stderr
    assert "Traceback" not in result.stderr
