"""Documentation stays true: README code runs, doc pages match module docstrings, CITATION is valid."""

import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks(text: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_python_examples_run():
    blocks = _python_blocks((ROOT / "README.md").read_text())
    assert blocks
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})


def test_readme_has_the_two_setup_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    assert any("contract_envs.demo" in c for c in commands)
    test_cmd = next(c.strip() for c in commands if "pytest" in c)
    assert test_cmd in (ROOT / ".ci" / "run").read_text()


def test_env_doc_pages_match_docstrings():
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "_scripts" / "gen_env_pages.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_citation_cff_is_valid():
    data = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert data["cff-version"] == "1.2.0"
    import contract_envs

    assert str(data["version"]) == contract_envs.__version__
    titles = [ref["title"] for ref in data["references"]]
    assert any("Principal-Agent Reinforcement Learning" in t for t in titles)
    for ref in data["references"]:
        assert ref["authors"] and ref["year"] and ref["type"]
