"""Real servers and a real browser: a web server process on 127.0.0.1 (runserver on the local
profile, as `make run` and the demo serve; gunicorn on the production profile, as the Docker
image serves) and headless Chromium driven through Selenium.

Selenium with Debian's chromium-driver rather than Playwright: Debian builds chromium and
chromium-driver from one source package, so the driver always speaks the installed browser's
version, while Playwright pins its own Chromium build and only tolerates a system one; and the
Python package is all the test suite adds (no Node.js runtime in the dev extras)."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.remote.webdriver import WebDriver

from tests.helpers import wait_until
from tests.workers import test_database_url

ROOT = Path(__file__).resolve().parent.parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Screenshots go here when it is set (docs/screenshots keeps the current ones), else to tmp.
SCREENSHOT_DIR_VARIABLE = "SLUICE_SCREENSHOT_DIR"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ServerProcess:
    """A web server process on a free port of 127.0.0.1, against the test database."""

    def __init__(self, name: str, args: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - kept open for the process
            prefix=f"sluice-{name}-", suffix=".log", delete=False
        )
        self.args = [arg.format(port=self.port) for arg in args]
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "CELERY_"))},
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.process: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        self.process = subprocess.Popen(
            self.args, cwd=ROOT, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        try:
            wait_until(self._answers, timeout=60, interval=0.1)
        except BaseException:
            self.stop()
            raise
        return self

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited early:\n{self.output()}")
        try:
            return requests.get(f"{self.base}/healthz", timeout=5).status_code == 200
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still booting
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def output(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-5000:]


@pytest.fixture(scope="module")
def local_server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """`manage.py runserver` on the local profile: the web server of `make run` and the demo."""
    server = ServerProcess(
        "runserver",
        [sys.executable, "manage.py", "runserver", "127.0.0.1:{port}", "--noreload"],
        {
            "DJANGO_SETTINGS_MODULE": "config.settings.local",
            "SLUICE_VAR_DIR": str(tmp_path_factory.mktemp("runserver-var")),
        },
    )
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def production_server(django_db_setup, tmp_path_factory) -> Iterator[ServerProcess]:
    """gunicorn on the production profile after `collectstatic`, as the Docker image runs."""
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SLUICE_VAR_DIR": str(tmp_path_factory.mktemp("gunicorn-var")),
        "DJANGO_SECRET_KEY": "browser-test-" + "x" * 50,
        "SLUICE_METRICS_TOKEN": "browser-test-" + "m" * 32,
        "SLUICE_SUPPRESSION_HASH_KEY": "browser-test-" + "h" * 32,
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "SLUICE_LOG_FORMAT": "text",
    }
    server = ServerProcess(
        "gunicorn",
        [sys.executable, "-m", "gunicorn", "config.wsgi:application",
         "--bind", "127.0.0.1:{port}", "--workers", "1"],
        env,
    )  # fmt: skip
    collected = subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput"],
        cwd=ROOT, env=server.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert collected.returncode == 0, collected.stdout + collected.stderr
    yield server.start()
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[WebDriver]:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).is_file()]
    if missing:
        message = (
            f"headless Chromium not installed ({', '.join(missing)} missing): "
            "apt-get install chromium chromium-driver (.ci/run installs them)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)  # CI installs them, so a missing browser is a broken CI
        pytest.skip(message)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1600,1000",
        "--lang=en-US",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def screenshot_dir(tmp_path) -> Path:
    configured = os.environ.get(SCREENSHOT_DIR_VARIABLE)
    directory = Path(configured) if configured else tmp_path
    directory.mkdir(parents=True, exist_ok=True)
    return directory
