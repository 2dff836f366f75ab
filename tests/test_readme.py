"""The README can be pasted: what scripts/check_readme.py (run by .ci/run) needs from it, and the
mistakes it would otherwise find only by running every block. Static, so quick."""

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("check_readme", ROOT / "scripts/check_readme.py")
check_readme = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_readme)

ASSIGNED = re.compile(r"(?:^|\s)([A-Z_][A-Z0-9_]*)=")  # NAME=…, export A=… B=…
USED = re.compile(r"\$\{?([A-Z_][A-Z0-9_]*)")


def _blocks() -> list:
    return check_readme.parse((ROOT / "README.md").read_text())


def test_readme_every_block_is_run_or_says_why(tmp_path):
    blocks = _blocks()

    script, left_out, ran = check_readme.script_for(blocks, tmp_path)

    skipped = [block for block in blocks if block.skip]
    assert [("docker compose" in block.body) for block in skipped] == [True]
    assert ran == len(blocks) - 2  # the Docker block, and Development's (CI runs those itself)
    assert all(reason.split(": ", 2)[-1] for reason in left_out)
    assert "make demo" in script
    assert "( make run ) >" in script


def test_readme_shell_variables_are_set_before_use():
    assigned: set[str] = set()
    used_before_set = []
    for block in _blocks():
        if block.skip or block.language != "bash":
            continue
        for line in check_readme.logical_lines(block.body):
            used = set(USED.findall(line)) - assigned - set(ASSIGNED.findall(line))
            used_before_set += [f"README.md:{block.line}: ${name}" for name in sorted(used)]
            assigned.update(ASSIGNED.findall(line))

    assert used_before_set == []
    assert {"DATABASE_URL", "REDIS_URL", "KEY", "LIST", "QUOTE", "WORKFLOW"} <= assigned


def test_readme_python_blocks_read_the_key_from_the_shell():
    python = [block.body for block in _blocks() if block.language == "python"]

    assert python
    assert all('os.environ["KEY"]' in body and "clapi_..." not in body for body in python)


def test_readme_commands_run_from_the_virtualenv_and_the_repository():
    lines = [
        line
        for block in _blocks()
        if not block.skip and block.language == "bash"
        for line in check_readme.logical_lines(block.body)
    ]

    assert [line for line in lines if re.match(r"\s*python3? ", line)] == []
    pythons = re.findall(r"([\w./]*) manage\.py", "\n".join(lines))
    assert pythons
    assert set(pythons) == {".venv/bin/python"}
    named = re.findall(r"(?:sample_data|docs)/[\w./-]+\.\w+", (ROOT / "README.md").read_text())
    assert "sample_data/leads.csv" in named
    assert [path for path in named if not (ROOT / path).is_file()] == []
