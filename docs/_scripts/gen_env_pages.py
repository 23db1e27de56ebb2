"""Write docs/envs/<name>.md from each registered environment's module docstring.

Run ``python docs/_scripts/gen_env_pages.py``; ``--check`` exits non-zero if a page is stale
(used by the test suite), so the docstring stays the single source of each page.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from contract_envs.registry import ENVIRONMENTS  # noqa: E402


def pages() -> dict[Path, str]:
    out = {}
    for name, (_, module_name) in ENVIRONMENTS.items():
        doc = inspect.cleandoc(importlib.import_module(module_name).__doc__ or "")
        header = f"<!-- generated from {module_name} by docs/_scripts/gen_env_pages.py; edit the docstring -->\n"
        out[ROOT / "docs" / "envs" / f"{name}.md"] = header + doc + "\n"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a page differs from its docstring")
    args = parser.parse_args()
    stale = []
    for path, text in pages().items():
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path.relative_to(ROOT)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        sys.exit(f"stale doc pages (run python docs/_scripts/gen_env_pages.py): {stale}")


if __name__ == "__main__":
    main()
