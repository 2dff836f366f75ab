"""The README's first command: the demo runs on embedded defaults (SQLite, the filesystem
broker, a real worker and web server as child processes) and ends with a summary."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "leads.csv"


@pytest.mark.worker
def test_demo_runs_on_embedded_defaults(tmp_path):
    # given a small slice of the sample list and an empty var/ folder
    sample = tmp_path / "leads.csv"
    with SAMPLE.open(newline="") as source, sample.open("w", newline="") as target:
        rows = list(csv.reader(source))[:151]
        csv.writer(target).writerows(rows)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", SLUICE_VAR_DIR=str(tmp_path / "var"))
    # when
    result = subprocess.run(
        [sys.executable, "manage.py", "demo", "--file", str(sample), "--timeout", "120"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    # then
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "on sqlite3 with the filesystem broker" in output
    assert "status               completed" in output
    reserved, charged, refunded = (
        int(re.search(rf"credits {name}\s+(\d+)", output).group(1))
        for name in ("reserved", "charged", "refunded")
    )
    assert charged + refunded == reserved > 0
    exported = Path(re.search(r"Exported \d+ leads to (\S+)", output).group(1))
    assert exported.is_file()
    assert exported.is_relative_to(tmp_path)
    # and no child process (worker, web server) outlives the demo
    assert _processes_with_env(f"SLUICE_VAR_DIR={tmp_path / 'var'}") == []


def _processes_with_env(entry: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone, or not ours to read
        if entry.encode() in environ:
            found.append(int(proc.name))
    return found
