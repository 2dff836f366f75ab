"""The wheel holds every first-party package: each local app in INSTALLED_APPS and config, with
their subpackages and data files (the built wheel itself is checked by .ci/check_wheel.py)."""

import glob
import tomllib
from pathlib import Path

from django.conf import settings
from setuptools import find_packages

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def _first_party_roots() -> list[str]:
    apps = [app for app in settings.INSTALLED_APPS if (ROOT / app.replace(".", "/")).is_dir()]
    return ["config", *apps]


def _packages_on_disk() -> set[str]:
    packages = set()
    for root in _first_party_roots():
        for init in (ROOT / root).rglob("__init__.py"):
            packages.add(".".join(init.parent.relative_to(ROOT).parts))
    return packages


def test_packaging_find_rules_include_every_first_party_package():
    rules = PYPROJECT["packages"]["find"]
    found = set(
        find_packages(
            where=str(ROOT / rules.get("where", ["."])[0]),
            include=rules.get("include", ["*"]),
            exclude=rules.get("exclude", []),
        )
    )

    assert {"config", "common", "ops", "enrichment.services"} <= _packages_on_disk()
    assert sorted(_packages_on_disk() - found) == []
    assert not any(name.split(".")[0] in ("tests", "bench", "scripts") for name in found)


def test_packaging_package_data_ships_every_data_file():
    package_data = PYPROJECT.get("package-data", {})
    patterns = [pattern for group in package_data.values() for pattern in group]
    shipped = {
        Path(path)
        for package in _packages_on_disk()
        for pattern in patterns
        for path in glob.glob(str(ROOT / package.replace(".", "/") / pattern), recursive=True)
    }
    data_files = {
        path
        for root in _first_party_roots()
        for path in (ROOT / root).rglob("*")
        if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts
    }

    assert ROOT / "providers/templates/admin/providers/providercall/change_list.html" in data_files
    assert sorted(str(path.relative_to(ROOT)) for path in data_files - shipped) == []
