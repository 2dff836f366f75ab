"""Checks a built wheel (`pip wheel --no-deps`): it holds every file of every first-party package
(config and each local app in INSTALLED_APPS: modules, subpackages, templates), and installed on
its own, away from this checkout, it starts as a server starts it (`config.wsgi`), `check`
passes and the templates load.

    python .ci/check_wheel.py path/to/sluice-*.whl
"""

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STARTS = """
import sys
from pathlib import Path

from django.core.management import call_command
from django.template.loader import get_template

import config.wsgi

site = Path(sys.argv[1]).resolve()
assert Path(config.wsgi.__file__).resolve().is_relative_to(site), config.wsgi.__file__
call_command("check")
for template in sys.argv[2:]:
    get_template(template)
print("the installed wheel starts")
"""


def first_party_files() -> list[str]:
    sys.path.insert(0, str(ROOT))
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings.local"
    from django.conf import settings

    roots = ["config"] + [a for a in settings.INSTALLED_APPS if (ROOT / a).is_dir()]
    return sorted(
        path.relative_to(ROOT).as_posix()
        for root in roots
        for path in (ROOT / root).rglob("*")
        if path.is_file() and path.suffix != ".pyc" and "__pycache__" not in path.parts
    )


def main(wheel: str) -> int:
    expected = first_party_files()
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    missing = [name for name in expected if name not in in_wheel]
    if missing:
        print(f"{wheel} misses {len(missing)} first-party files:", *missing[:50], sep="\n  ")
        return 1
    print(f"{wheel} holds all {len(expected)} first-party files", flush=True)

    templates = [name.split("/templates/", 1)[1] for name in expected if "/templates/" in name]
    with tempfile.TemporaryDirectory(prefix="sluice-wheel-") as work:
        site = Path(work) / "site"
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
        subprocess.run([*pip, "--target", site, wheel], check=True)
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PYTHONPATH")
        }
        environment.update(
            PYTHONPATH=str(site),
            DJANGO_SETTINGS_MODULE="config.settings.local",
            SLUICE_VAR_DIR=str(Path(work) / "var"),
        )
        result = subprocess.run(
            [sys.executable, "-c", STARTS, str(site), *templates],
            cwd=work,
            env=environment,
            check=False,
        )
    return result.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
