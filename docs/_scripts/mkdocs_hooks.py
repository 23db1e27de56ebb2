"""MkDocs hooks: the navigation from the registry and the folders, and the pages built at build time.

The environments' section lists every registered game (``contract_envs.registry.ENVIRONMENTS``), the baselines'
section every ``baselines/*.py``, the results' section every ``docs/results/*.md``; a Markdown page added at the
top of ``docs/`` that the navigation does not name is listed under "More". Pages of ``site_pages.py`` (one per
baseline, the results index, the games' API) are generated in memory on every build, never committed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (str(ROOT), str(HERE)):
    if path not in sys.path:
        sys.path.insert(0, path)

import site_pages  # noqa: E402

GUIDE = ["getting-started.md", "concepts.md", "architecture.md", "solvers.md", "ecosystem.md", "performance.md"]


def _titled(pages: list[tuple[str, str]]) -> list[dict[str, str]]:
    """Navigation entries ``{title: page}``; titles that repeat get the page's file name."""
    titles = [title for title, _ in pages]
    return [{f"{title}: {Path(page).stem}" if titles.count(title) > 1 else title: page} for title, page in pages]


def navigation(docs_dir: Path) -> list:
    from contract_envs.registry import ENVIRONMENTS

    guide = [page for page in GUIDE if (docs_dir / page).exists()]
    envs = [(site_pages.short_title(docs_dir / "envs" / f"{name}.md"), f"envs/{name}.md") for name in ENVIRONMENTS]
    baselines = [(f"{p.stem}.py", f"baselines/{p.stem}.md") for p in site_pages.baseline_scripts()]
    results = [(site_pages.short_title(p), f"results/{p.name}") for p in site_pages.results_pages()]
    nav = [
        {"Home": "index.md"},
        {"User guide": guide},
        {"Environments": [{"Overview": "envs/index.md"}, *_titled(envs)]},
        {"Baselines": [{"Conventions": "baselines/index.md"}, *_titled(baselines)]},
        {"Results": [{"Overview": "results/index.md"}, *_titled(results)]},
        {
            "API reference": [
                {"Overview": "api/index.md"},
                *[{title: page} for page, title, *_ in site_pages.API_PAGES],
                {"Games": "api/games.md"},
            ]
        },
        {"Changelog": "changelog.md"},
    ]
    named = {"index.md", "changelog.md", *guide}
    more = sorted(p.name for p in docs_dir.glob("*.md") if p.name not in named)
    if more:
        nav.insert(-1, {"More": more})
    return nav


def on_config(config, **kwargs):
    config["nav"] = navigation(Path(config["docs_dir"]))
    return config


_QUOTE_IN_LIST = re.compile(r"^(\s*[-*+] )>", flags=re.M)


_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(([^)\s]+)\)")


def _outside_docs(markdown: str, page_dir: Path, docs_dir: Path) -> str:
    """A link to a repository file outside ``docs/`` (a script, the README) becomes its path in code: the site
    has no page for it, and the text stays readable."""

    def replace(match: re.Match) -> str:
        text, target = match[1], match[2]
        if "://" in target or target.startswith(("#", "mailto:")):
            return match[0]
        path = (page_dir / target.split("#", 1)[0]).resolve()
        if path.is_relative_to(docs_dir) or not path.is_relative_to(ROOT):
            return match[0]
        where = path.relative_to(ROOT).as_posix()
        return f"{text} (`{where}`)" if text.strip("`") != where else f"`{where}`"

    return _LINK.sub(replace, markdown)


def on_page_markdown(markdown, page, config, files, **kwargs):
    """A list item that starts with ``>`` (e.g. ``- >= 80% ...``) is text, not a quotation; links to repository
    files outside ``docs/`` are shown as their paths."""
    docs_dir = Path(config["docs_dir"]).resolve()
    page_dir = (docs_dir / page.file.src_uri).parent
    return _outside_docs(_QUOTE_IN_LIST.sub(r"\1\\>", markdown), page_dir, docs_dir)


_SPHINX_ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):<code>(~?)([^<]+)</code>")


def on_page_content(html, page, config, files, **kwargs):
    """Docstrings use Sphinx roles (``:class:`~pkg.Name```): show them as code, ``~`` keeping the last name."""
    return _SPHINX_ROLE.sub(lambda m: f"<code>{m[2].rsplit('.', 1)[-1] if m[1] else m[2]}</code>", html)


def on_files(files, config, **kwargs):
    from mkdocs.structure.files import File

    for src_uri, content in site_pages.generated_pages().items():
        existing = files.get_file_from_path(src_uri)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, src_uri, content=content))
    return files
