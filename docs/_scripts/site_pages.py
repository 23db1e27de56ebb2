"""Pages of the documentation site that are built from the repository at build time (``mkdocs_hooks.py``).

* ``baselines/<stem>.md`` for every ``baselines/<stem>.py``: what it learns (its module docstring, which is
  also its ``--help``), its fastest meaningful command (the commands its docstring gives), its results and
  plots (the sections of ``docs/results/*.md`` that name the script, directly or through the
  ``benchmarks/`` script that ran it), and where its outputs go.
* ``results/index.md``: every results page with its title and opening lines.
* ``api/games.md``: the public names of every registered game's rules module.

Nothing here holds a number: the pages show what the scripts and the results pages say now, so a new
baseline, a new results page or updated numbers appear on the next build without editing this file.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
BASELINES = ROOT / "baselines"
BENCHMARKS = ROOT / "benchmarks"
RESULTS = DOCS / "results"

_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")


@dataclass
class Section:
    """A part of a results page: its heading (``""`` for the text before the first ``##``) and its lines."""

    page: Path
    heading: str
    lines: list[str]


def baseline_scripts() -> list[Path]:
    return sorted(p for p in BASELINES.glob("*.py") if not p.name.startswith("_"))


def results_pages() -> list[Path]:
    return sorted(p for p in RESULTS.glob("*.md") if p.name != "index.md")


def module_docstring(path: Path) -> str:
    return ast.get_docstring(ast.parse(path.read_text())) or ""


def title_of(page: Path) -> str:
    for line in page.read_text().splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return page.stem.replace("_", " ")


def short_title(page: Path) -> str:
    """A page's title without a trailing parenthesis: "Coin Game (with a contracting principal)" -> "Coin Game"."""
    return re.sub(r"\s*\([^()]*\)$", "", title_of(page)).strip() or title_of(page)


def sections(page: Path) -> list[Section]:
    out = [Section(page, "", [])]
    in_code = False
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if not in_code and line.startswith("## "):
            out.append(Section(page, line[3:].strip(), []))
        elif not line.startswith("# ") or in_code:
            out[-1].lines.append(line)
    return out


def _mentions(text: str, stem: str) -> bool:
    return re.search(rf"(?<![\w/]){re.escape(stem)}\.py\b|baselines/{re.escape(stem)}\.py\b", text) is not None


def _runners(stem: str) -> list[str]:
    """``benchmarks/*.py`` scripts whose source runs or names ``baselines/<stem>.py``."""
    return [f"benchmarks/{p.name}" for p in sorted(BENCHMARKS.glob("*.py")) if _mentions(p.read_text(), stem)]


def results_for(stem: str) -> list[Section]:
    """The results sections of a baseline: sections whose heading names the script; else, in pages that
    name it (or a benchmark that runs it), the opening section."""
    runners = _runners(stem)
    found = []
    for page in results_pages():
        text = page.read_text()
        parts = sections(page)
        named = [s for s in parts if s.heading and _mentions(s.heading, stem)]
        if named:
            found += named
        elif _mentions(text, stem) or any(r in text for r in runners):
            found.append(parts[0])
    return found


def _first_table(lines: list[str]) -> list[str]:
    start = next((i for i, line in enumerate(lines) if line.startswith("|")), None)
    if start is None:
        return []
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return lines[start:end]


def _images(section: Section, page: Path) -> list[str]:
    """Image lines of a results page, with paths from the results folder rewritten for ``page``'s folder."""
    out = []
    for alt, src in _IMAGE.findall("\n".join(section.lines)):
        if "://" in src:
            continue
        target = (section.page.parent / src).resolve()
        if target.exists():
            rel = Path(_relpath(target, page.parent))
            out.append(f"![{alt or 'plot'}]({rel.as_posix()})")
    return out


def _relpath(target: Path, start: Path) -> str:
    import os

    return os.path.relpath(target, start)


def _commands(doc: str, stem: str) -> list[str]:
    """Commands the docstring gives for the script (``python baselines/<stem>.py ...``), in order."""
    found = []
    for raw in re.findall(r"``([^`]*?python[^`]*?)``", doc) + re.findall(r"^\s{2,}(.*python .*)$", doc, flags=re.M):
        command = " ".join(raw.split())
        if f"{stem}.py" in command and command not in found:
            found.append(command)
    return found


def _commands_in(pages: list[Path], names: list[str]) -> list[str]:
    """Commands on the pages (code blocks, backslash continuations joined, and inline code) that run one of
    ``names``."""
    found = []
    for page in pages:
        text = page.read_text()
        candidates = []
        for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
            candidates += block.replace("\\\n", " ").splitlines()
        candidates += re.findall(r"(?<!`)`([^`\n]*python [^`\n]*)`(?!`)", text)
        for command in candidates:
            command = " ".join(command.split())
            if "python" in command and any(name in command for name in names) and command not in found:
                found.append(command)
    return found


def baseline_page(script: Path) -> str:
    stem = script.stem
    doc = module_docstring(script)
    page = DOCS / "baselines" / f"{stem}.md"
    summary, _, rest = doc.partition("\n")
    lines = [
        f"<!-- generated at build time by docs/_scripts/site_pages.py from baselines/{stem}.py and docs/results -->",
        f"# `{stem}.py`",
        "",
        f"**{summary.strip() or 'A baseline.'}**",
        "",
        "## Command",
    ]
    commands = _commands(doc, stem)
    found = results_for(stem)
    pages = list(dict.fromkeys(section.page for section in found))
    recorded = _commands_in(pages, [f"baselines/{stem}.py"]) or _commands_in(pages, _runners(stem))
    if commands:
        lines += [
            "",
            "The fastest meaningful run, as the script's docstring gives it:",
            "",
            "```bash",
            commands[0],
            "```",
        ]
        if len(commands) > 1:
            lines += ["", "Other runs it documents:", "", "```bash", *commands[1:], "```"]
    if recorded:
        lines += ["", "The commands of the recorded runs whose results are below:", "", "```bash", *recorded[:6], "```"]
        if len(recorded) > 6:
            lines += ["", f"({len(recorded) - 6} more on the results pages.)"]
    if not commands and not recorded:
        lines += ["", "Neither the script's docstring nor a results page gives a command yet."]
    lines += [
        "",
        f"Every option, with its meaning and default: `PYTHONPATH=. python baselines/{stem}.py --help`. "
        "Outputs (TensorBoard events, `metrics.json`, the `--save-model` checkpoint) go to a run folder; see the "
        "[conventions](index.md).",
        "",
        "## Results",
        "",
    ]
    if not found:
        lines += ["No results page names this script yet."]
    titles = [section.heading or short_title(section.page) for section in found]
    for section, heading in zip(found, titles, strict=True):
        rel = Path(_relpath(section.page, page.parent)).as_posix()
        if titles.count(heading) > 1:
            heading = f"{heading} ({section.page.name})"
        lines += [
            f"### {heading}",
            "",
            f"From [{section.page.name}]({rel}), which has the protocol, the commands, the seeds and the wall-clock.",
            "",
        ]
        table = _first_table(section.lines)
        if table:
            lines += [*table, ""]
        images = _images(section, page)
        lines += [*images[:2], ""] if images else []
    lines += ["## What it learns, and how", "", rest.strip(), ""]
    return "\n".join(lines).rstrip() + "\n"


def baseline_pages() -> dict[str, str]:
    return {f"baselines/{p.stem}.md": baseline_page(p) for p in baseline_scripts()}


def results_index() -> str:
    from contract_envs.registry import ENVIRONMENTS

    lines = [
        "<!-- generated at build time by docs/_scripts/site_pages.py from docs/results -->",
        "# Results",
        "",
        "Every number on these pages comes from a recorded run of a baseline, with its command, seeds, machine and "
        "wall-clock on the page. Headlines are fractions of an exact optimum wherever one can be computed "
        "([exact solvers](../solvers.md)); learned references are named as such. Each baseline's page "
        "([Baselines](../baselines/index.md)) shows the tables and plots that concern it.",
        "",
        "| page | baselines | environments |",
        "|---|---|---|",
    ]
    pages = results_pages()
    titles = [short_title(p) for p in pages]
    scripts = baseline_scripts()
    for page, title in zip(pages, titles, strict=True):
        text = page.read_text()
        used = [s.stem for s in scripts if _mentions(text, s.stem) or any(r in text for r in _runners(s.stem))]
        sources = text + "".join((BASELINES / f"{u}.py").read_text() for u in used)
        envs = [name for name in ENVIRONMENTS if f"{name}-v" in sources or f"{name}_v" in sources]
        label = f"{title} ({page.name})" if titles.count(title) > 1 else title
        baselines = ", ".join(f"[`{u}.py`](../baselines/{u}.md)" for u in used) or "-"
        lines.append(
            f"| [{label}]({page.name}) | {baselines} | {', '.join(f'[{e}](../envs/{e}.md)' for e in envs) or '-'} |"
        )
    return "\n".join(lines) + "\n"


def games_api() -> str:
    from contract_envs.registry import ENVIRONMENTS

    lines = [
        "<!-- generated at build time by docs/_scripts/site_pages.py from the registry -->",
        "# Games",
        "",
        "The rules module of every registered game (its module docstring is the environment's page under "
        "[Environments](../envs/index.md)); the public names each exports.",
        "",
    ]
    import importlib

    for name, (_, module_name) in ENVIRONMENTS.items():
        module = importlib.import_module(module_name)
        names = [n for n in getattr(module, "__all__", ["make_game"]) if not n.isupper()]
        lines += [f"## `{module_name}`", "", f"Page: [{name}](../envs/{name}.md).", ""]
        for member in names:
            lines += [f"::: {module_name}.{member}", "    options:", "      heading_level: 3", ""]
    return "\n".join(lines)


# API pages: (page, title, introduction, modules); a module whose file does not exist is left out, and every
# module of ``contract_envs/integrations/`` is added to the adapters' page
API_PAGES = (
    (
        "api/make.md",
        "Making environments",
        "`contract_envs.make` (PettingZoo Parallel and AEC), the batched API and the registry.",
        ["contract_envs", "contract_envs.vector", "contract_envs.registry"],
    ),
    (
        "api/adapters.md",
        "Adapters, role views and integrations",
        "The PettingZoo environments and the role views are generic over every registered game.",
        ["contract_envs.adapters.pettingzoo", "contract_envs.adapters.views", "contract_envs.wrappers"],
    ),
    (
        "api/core.md",
        "Games and stage machines",
        "The Game protocol every rules module implements, and the stage machines that run the rounds "
        "(the batched API is a stage machine).",
        ["contract_envs.core.game", "contract_envs.core.machines"],
    ),
    (
        "api/contracts.md",
        "Contracts, ledger, randomness, checks",
        "Contract terms, validation, settlement and the ledger; the per-environment random streams; the "
        "argument checks whose messages name the argument and its allowed range.",
        ["contract_envs.contracts", "contract_envs.rng", "contract_envs.checks"],
    ),
    (
        "api/solvers.md",
        "Exact solvers",
        "The exact answers every learner is scored against (see also the [solvers' guide](../solvers.md)).",
        [
            "contract_envs.solvers.min_pay",
            "contract_envs.solvers.spe",
            "contract_envs.solvers.best_response",
            "contract_envs.solvers.incentive_design",
            "contract_envs.solvers.coin_game",
            "contract_envs.solvers.tree_contracts",
            "contract_envs.solvers.contract_bandit",
        ],
    ),
)


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def api_pages() -> dict[str, str]:
    out = {}
    for page, title, intro, modules in API_PAGES:
        if page == "api/adapters.md":
            integrations = ROOT / "contract_envs" / "integrations"
            modules = modules + [
                f"contract_envs.integrations.{p.stem}"
                for p in sorted(integrations.glob("*.py"))
                if p.stem != "__init__"
            ]
        lines = ["<!-- generated at build time by docs/_scripts/site_pages.py -->", f"# {title}", "", intro, ""]
        for module in modules:
            if _module_file(module) is not None:
                lines += [f"::: {module}", ""]
        out[page] = "\n".join(lines)
    index = [
        "<!-- generated at build time by docs/_scripts/site_pages.py -->",
        "# API reference",
        "",
        'Generated from the docstrings. Most users need three calls: `contract_envs.make("parallel" | "aec", '
        "env_id, **kwargs)`, `contract_envs.vector.make(env_id, num_envs, seed=...)` and the solvers of "
        "`contract_envs.solvers`.",
        "",
    ]
    for page, title, intro, _ in API_PAGES:
        index.append(f"- [{title}]({Path(page).name}): {intro}")
    index.append("- [Games](games.md): the rules module of every registered game.")
    out["api/index.md"] = "\n".join(index) + "\n"
    out["api/games.md"] = games_api()
    return out


def generated_pages() -> dict[str, str]:
    """Every page built at build time: ``{path under docs/: markdown}``."""
    return {**baseline_pages(), "results/index.md": results_index(), **api_pages()}
