import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_every_environment_setting_is_documented_in_env_example():
    # every module under config/ (the profiles, the topic modules, config/env.py)
    modules = sorted((ROOT / "config").rglob("*.py"))
    assert ROOT / "config" / "settings" / "base.py" in modules
    source = "\n".join(p.read_text() for p in modules)
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', source))
    documented = set(re.findall(r"^([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read, "no settings found"
    assert sorted(read - documented) == []
