"""The README's first command: the demo runs on embedded defaults (SQLite, the filesystem
broker, a real worker and web server as child processes) and ends with a summary."""

import csv
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ops.management.commands.demo import demo_environment
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data" / "leads.csv"


def _sample(tmp_path: Path) -> Path:
    """A small slice of the sample list."""
    sample = tmp_path / "leads.csv"
    with SAMPLE.open(newline="") as source, sample.open("w", newline="") as target:
        rows = list(csv.reader(source))[:151]
        csv.writer(target).writerows(rows)
    return sample


def _demo_env(var: Path) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
    }
    env.update(DJANGO_SETTINGS_MODULE="config.settings.local", SLUICE_VAR_DIR=str(var))
    return env


def _demo(sample: Path, var: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "demo", "--file", str(sample), "--timeout", "120"],
        cwd=ROOT, env=_demo_env(var), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.worker
def test_demo_runs_on_embedded_defaults(tmp_path):
    # given a small slice of the sample list and an empty var/ folder
    sample = _sample(tmp_path)
    # when
    result = _demo(sample, tmp_path / "var")
    # then
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "on sqlite3 with the filesystem broker" in output
    assert re.search(r"Workflow bulk-enrich-\w+: completed in ", output)
    reserved, charged, refunded = (
        int(re.search(rf"credits {name}\s+(\d+)", output).group(1))
        for name in ("reserved", "charged", "refunded")
    )
    assert charged + refunded == reserved > 0
    exported = Path(re.search(r"Exported \d+ leads to (\S+)", output).group(1))
    assert exported.is_file()
    assert exported.is_relative_to(tmp_path)
    # and the sandbox's inventions are marked as such
    assert re.search(r"sandbox_a \[sandbox\]\s+email", output)
    assert "leads hold data a sandbox invented" in output
    # and no child process (worker, web server) outlives the demo
    assert _processes_with_env(f"SLUICE_VAR_DIR={tmp_path / 'var'}") == []

    # when the demo runs again on the same database
    again = _demo(sample, tmp_path / "var")

    # then it says its answers came from the cache instead of "found 0 (0.0 %)" alone
    output = again.stdout + again.stderr
    assert again.returncode == 0, output[-3000:]
    assert "served from the result cache: no provider was called" in output
    rerun = int(re.search(r"leads\s+(\d+) in the run", output).group(1))
    assert f"from the cache       {rerun} of {rerun} leads answered by the cache alone" in output
    assert re.search(r"lookups\s+0 provider calls", output)


def test_demo_environment_keeps_its_sandboxes_over_a_stack_env():
    # given the environment a `.env` made from .env.example gives (real providers, no keys)
    stack = {
        "SLUICE_WATERFALL_EMAIL": "hunter,prospeo,pdl",
        "SLUICE_WATERFALL_PHONE": "prospeo,pdl",
        "SLUICE_WATERFALL_COMPANY": "pdl",
        "SLUICE_VERIFIER": "zerobounce",
        "PATH": "/usr/bin",
    }
    # when the demo builds its children's environment
    env = demo_environment(stack, settings_module="config.settings.local")
    # then every waterfall and the verifier are the demo's own sandboxes
    assert env["SLUICE_WATERFALL_EMAIL"] == "sandbox_a,sandbox_b,sandbox_c"
    assert env["SLUICE_WATERFALL_PHONE"] == env["SLUICE_WATERFALL_COMPANY"] == "sandbox_a"
    assert env["SLUICE_VERIFIER"] == "sandbox"
    assert (env["PATH"], env["DJANGO_SETTINGS_MODULE"]) == ("/usr/bin", "config.settings.local")


@pytest.mark.worker
def test_demo_ctrl_c_twice_stops_cleanly_without_a_traceback(tmp_path):
    # given a demo whose worker and web server are up
    var = tmp_path / "var"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--file", str(_sample(tmp_path))],
        cwd=ROOT, env={**_demo_env(var), "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(
        target=lambda: [lines.put(line) for line in process.stdout], daemon=True
    ).start()
    output: list[str] = []
    try:
        wait_until(lambda: _read(lines, output, "are up"), timeout=120, interval=0.1)
        # when Ctrl-C is pressed, and pressed again while the demo stops its children
        process.send_signal(signal.SIGINT)
        wait_until(lambda: _read(lines, output, "Interrupted"), timeout=30, interval=0.01)
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    _read(lines, output, "")
    text = "".join(output)
    # then it exits as an interrupted command does, without a traceback, leaving no child
    assert process.returncode == 130, text[-3000:]
    assert "Traceback" not in text
    assert wait_until(lambda: _processes_with_env(f"SLUICE_VAR_DIR={var}") == [], timeout=10)


def _read(lines: queue.Queue, output: list[str], wanted: str) -> bool:
    """Moves what the process printed so far into `output`; whether `wanted` appeared."""
    while not lines.empty():
        output.append(lines.get_nowait())
    return wanted in "".join(output)


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
