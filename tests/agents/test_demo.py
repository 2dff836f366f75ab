"""`make demo-agents`: title_normalizer over (a slice of) the sample list on embedded defaults,
through the API, printing a few rows."""

import re
import subprocess
import sys

import pytest

from tests.test_demo import ROOT, _demo_env, _processes_with_env, _sample


@pytest.mark.worker
def test_demo_agents_runs_on_embedded_defaults(tmp_path):
    sample = _sample(tmp_path)
    var = tmp_path / "var"

    result = subprocess.run(
        [sys.executable, "manage.py", "demo_agents", "--file", str(sample), "--timeout", "120"],
        cwd=ROOT, env=_demo_env(var), capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-3000:]
    assert "Sluice smart-agent demo on sqlite3" in output
    match = re.search(r"Run agent-\w+ completed: (\d+) titles normalized, (\d+) without", output)
    assert match, output[-3000:]
    assert int(match.group(1)) + int(match.group(2)) == 150
    assert f"{match.group(1)} credits charged" in output
    # a table of a few rows: the raw title, then canonical title, seniority and department
    assert re.search(r"^title\s+canonical\s+seniority\s+department$", output, re.M)
    assert re.search(r"^VP of Sales\s+VP of Sales\s+vp\s+sales$", output, re.M)
    assert _processes_with_env(f"SLUICE_VAR_DIR={var}") == []
