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


# --------------------------------------------------------------------------- the documentation site
def _scripts():
    scripts = str(ROOT / "docs" / "_scripts")
    if scripts not in sys.path:
        sys.path.insert(0, scripts)


def test_gifs_are_the_pictures_the_code_draws_now():
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "_scripts" / "gen_gifs.py"), "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_env_page_shows_its_gif_and_the_contract_rows():
    import json

    from contract_envs.registry import ENVIRONMENTS

    manifest = json.loads((ROOT / "docs" / "img" / "envs" / "manifest.json").read_text())
    for name in ENVIRONMENTS:
        page = (ROOT / "docs" / "envs" / f"{name}.md").read_text()
        assert f"](../img/envs/{name}.gif)" in page, name
        assert manifest[name]["caption"] in page
        for row in ("Contract space", "Payment cap", "Welfare", "Exact optimum"):
            assert re.search(rf"^\| \*\*{row}\*\* \| .+ \|$", page, flags=re.M), (name, row)
        gif = (ROOT / "docs" / "img" / "envs" / f"{name}.gif").read_bytes()
        height, width, channels = manifest[name]["shape"]
        assert gif[:6] == b"GIF89a" and channels == 3 and manifest[name]["frames"] >= 2
        assert int.from_bytes(gif[6:8], "little") == width and int.from_bytes(gif[8:10], "little") == height
        assert len(gif) <= 600_000, f"{name}.gif is {len(gif)} bytes"


def test_exact_optimum_rows_name_functions_that_exist():
    import importlib

    import contract_envs.solvers as solvers
    from contract_envs.registry import ENVIRONMENTS

    for _version, module_name in ENVIRONMENTS.values():
        module = importlib.import_module(module_name)
        text = getattr(module, "EXACT_OPTIMUM", "")
        for token in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)(?:\([^`]*\))?`", text):
            if "_" not in token and not token[0].isupper():
                continue  # a preset or instance name such as `parl`
            known = token in dir(solvers) or hasattr(module, token) or token in getattr(module, "PRESETS", {})
            assert known, f"{module_name}.EXACT_OPTIMUM names {token!r}, which is neither a solver nor in the module"


def test_docs_python_examples_run():
    for page in ("getting-started.md", "concepts.md"):
        for block in _python_blocks((ROOT / "docs" / page).read_text()):
            exec(compile(block, page, "exec"), {})


def test_docs_include_readme_sections_that_exist():
    readme = (ROOT / "README.md").read_text()
    for page in (ROOT / "docs").rglob("*.md"):
        for name in re.findall(r'^--8<-- "README\.md:(\w+)"$', page.read_text(), flags=re.M):
            assert f"--8<-- [start:{name}]" in readme and f"--8<-- [end:{name}]" in readme, (page, name)


def test_navigation_lists_every_environment_baseline_and_results_page():
    _scripts()
    import mkdocs_hooks

    from contract_envs.registry import ENVIRONMENTS

    nav = mkdocs_hooks.navigation(ROOT / "docs")

    def pages(entries):
        for entry in entries:
            value = next(iter(entry.values())) if isinstance(entry, dict) else entry
            yield from pages(value) if isinstance(value, list) else [value]

    listed = set(pages(nav))
    assert {f"envs/{name}.md" for name in ENVIRONMENTS} <= listed
    assert {f"baselines/{p.stem}.md" for p in (ROOT / "baselines").glob("*.py")} <= listed
    assert {f"results/{p.name}" for p in (ROOT / "docs" / "results").glob("*.md")} <= listed
    generated = set(mkdocs_hooks.site_pages.generated_pages())
    for page in listed:
        assert (ROOT / "docs" / page).exists() or page in generated, page


def test_baseline_pages_show_what_it_learns_a_command_and_its_results():
    _scripts()
    import site_pages

    for script in site_pages.baseline_scripts():
        stem = script.stem
        page = site_pages.baseline_page(script)
        summary = site_pages.module_docstring(script).splitlines()[0].strip()
        assert summary and f"**{summary}**" in page
        command = page.split("## Command", 1)[1].split("## Results", 1)[0]
        runners = site_pages._runners(stem)
        assert re.search(r"```bash\n.*python .*(" + "|".join([f"{stem}.py", *runners]) + ")", command), stem
        results = page.split("## Results", 1)[1]
        for results_page in site_pages.results_pages():
            if f"baselines/{stem}.py" in results_page.read_text():
                assert f"]({'../results/' + results_page.name})" in results, (stem, results_page.name)
        for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", results):
            assert (ROOT / "docs" / "baselines" / image).resolve().exists(), (stem, image)


def test_site_shows_links_to_repository_files_as_paths():
    _scripts()
    import mkdocs_hooks

    docs = (ROOT / "docs").resolve()
    text = "[the script](../../baselines/parl_tabular.py), [Coin Game](../envs/coin_game.md), [web](https://x.org)"
    shown = mkdocs_hooks._outside_docs(text, docs / "results", docs)
    assert shown == "the script (`baselines/parl_tabular.py`), [Coin Game](../envs/coin_game.md), [web](https://x.org)"
