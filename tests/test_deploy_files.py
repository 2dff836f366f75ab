"""How Sluice is started outside the test suite: docker-compose.yml, the Dockerfile, the Makefile
and scripts/run_all.sh (the servers themselves are tested in tests/browser)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104 - what must not appear


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _make_dry_run(*targets: str, **variables: str) -> str:
    result = subprocess.run(
        ["make", "-n", *targets, *(f"{name}={value}" for name, value in variables.items())],
        cwd=ROOT, capture_output=True, text=True, timeout=30, check=True,
        env={k: v for k, v in os.environ.items() if k not in ("WEB_ADDR", "FLOWER_ADDR")},
    )  # fmt: skip
    return result.stdout


def test_deploy_files_web_healthcheck_probes_healthz_not_the_schema():
    probe = " ".join(_compose()["services"]["web"]["healthcheck"]["test"])

    assert "http://127.0.0.1:8000/healthz" in probe
    assert "schema" not in probe


def test_deploy_files_compose_env_file_needs_no_recent_compose():
    # `env_file: [{path: …, required: …}]` is Compose 2.24+; the short form is read by any v2.
    services = _compose()["services"]
    env_files = {name: service.get("env_file") for name, service in services.items()}
    long_form = {
        name: value
        for name, value in env_files.items()
        if value is not None and not isinstance(value, str)
        and not all(isinstance(item, str) for item in value)
    }  # fmt: skip

    assert env_files["web"] == ".env"
    assert long_form == {}


def test_deploy_files_compose_collects_static_before_the_web_server_starts():
    services = _compose()["services"]

    assert "collectstatic --noinput" in " ".join(services["migrate"]["command"])
    web_waits_for = services["web"]["depends_on"]["migrate"]["condition"]
    assert web_waits_for == "service_completed_successfully"


def test_deploy_files_image_runs_production_with_its_static_files_collected():
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")  # one line each
    copy_all = dockerfile.index("COPY . .")
    collect = dockerfile.index("manage.py collectstatic --noinput")

    production = r"^ENV .*DJANGO_SETTINGS_MODULE=config\.settings\.production\b"
    assert re.search(production, dockerfile, re.M)
    assert copy_all < collect < dockerfile.index("USER sluice")


def test_deploy_files_image_collectstatic_placeholders_satisfy_the_production_profile():
    # given the variables the image's collectstatic step sets (production refuses to load
    # without its secrets and services, so they must keep up with it)
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    run_line = next(line for line in dockerfile.splitlines() if "manage.py collectstatic" in line)
    placeholders = dict(re.findall(r"(\w+)=(\S+)", run_line.split("python manage.py")[0]))
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings.production"}

    # when the production profile loads with them alone
    loaded = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env={**env, **placeholders}, capture_output=True, text=True, check=False,
    )  # fmt: skip

    # then it starts
    assert loaded.returncode == 0, loaded.stderr


def test_deploy_files_make_run_and_web_listen_on_loopback_by_default():
    commands = _make_dry_run("run", "web", "flower")

    assert 'scripts/run_all.sh ".venv/bin" "127.0.0.1:8000"' in commands
    assert 'manage.py runserver "127.0.0.1:8000"' in commands
    assert "flower --address=127.0.0.1 --port=5555" in commands
    assert EVERY_INTERFACE not in commands
    run_all = (ROOT / "scripts" / "run_all.sh").read_text()
    assert 'ADDR="${2:-127.0.0.1:8000}"' in run_all
    assert 'runserver "$ADDR"' in run_all
    assert EVERY_INTERFACE not in run_all


def test_deploy_files_make_run_listens_where_told():
    commands = _make_dry_run("run", "web", WEB_ADDR="0.0.0.0:9000")

    assert 'scripts/run_all.sh ".venv/bin" "0.0.0.0:9000"' in commands
    assert 'manage.py runserver "0.0.0.0:9000"' in commands


def test_deploy_files_compose_workers_scale_and_consume_the_documented_queues():
    # `--scale worker=N`: no fixed container name or node name, and every queue consumed (no -Q)
    services = _compose()["services"]
    worker, chunks = services["worker"], services["chunk-worker"]

    assert "container_name" not in worker
    assert "-Q" not in worker["command"]
    assert not any(arg.startswith(("-n", "--hostname")) for arg in worker["command"])
    # the chunk fleet consumes the chunk queue only, under a name unique per container
    command = chunks["command"]
    assert command[command.index("-Q") + 1] == "chunks"
    assert command[command.index("-n") + 1] == "chunks@%h"
    assert chunks["profiles"] == ["split"]
    # one beat
    assert "deploy" not in services["beat"]


def test_deploy_files_compose_queue_names_are_the_settings_defaults():
    from django.conf import settings

    documented = (ROOT / "docs" / "operations.md").read_text()
    for queue in settings.SLUICE_QUEUES:
        assert f"`{queue}`" in documented, queue
