"""Write ``docs/envs/<name>.md`` for every registered environment, and the gallery ``docs/envs/index.md``.

Run ``python docs/_scripts/gen_env_pages.py``; ``--check`` exits non-zero if a page is stale (the test suite
runs it), so each rules module's docstring stays the single source of its page. A page is the docstring with,
under its title, the environment's GIF and its caption (``docs/_scripts/gen_gifs.py``), and, at the end of its
property table, rows read from the game itself: the contract space, the payment cap, who pays whom, what
welfare counts, and the exact optimum (the rules module's ``EXACT_OPTIMUM``).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from contract_envs.contracts import ContractTerms, PolicyTerms  # noqa: E402
from contract_envs.core.game import HIERARCHICAL, SEQUENTIAL  # noqa: E402
from contract_envs.registry import ENVIRONMENTS, spec  # noqa: E402

ENVS = ROOT / "docs" / "envs"
GIF_MANIFEST = ROOT / "docs" / "img" / "envs" / "manifest.json"
NO_OPTIMUM = "not declared (`EXACT_OPTIMUM` of the rules module)"


def _cap_argument(module) -> str:
    params = inspect.signature(module.make_game).parameters
    return next((p for p in ("payment_cap", "incentive_cap") if p in params), "payment_cap")


def contract_rows(name: str) -> list[tuple[str, str]]:
    """The contract rows of an environment's property table, read from its default game."""
    env_spec = spec(name)
    module = env_spec.rules
    game = env_spec.make_game()
    terms, rows = game.principal, []
    if game.timing == HIERARCHICAL:
        rows.append(
            (
                "Contract space",
                "per inner node and child: a recommended action and a transfer in `[0, payment_cap]` "
                '(`contract_form="vector"`: a payment per child action)',
            )
        )
        rows.append(("Payment cap", f"{game.payment_cap:g} (`payment_cap`; default: the number of nodes)"))
        rows.append(
            (
                "Who pays whom",
                "each inner node pays each child the offered transfer if the child takes the recommended action; "
                "offers are made top-down and seen before acting",
            )
        )
    elif isinstance(terms, ContractTerms):
        space = game.action_space("principal_0")
        layout = (
            "one payment per outcome, the same schedule for every agent"
            if terms.shared
            else "one row per agent, one payment per outcome"
        )
        rows.append(("Contract space", f"`{space}`: {layout}"))
        rows.append(("Payment cap", f"{terms.payment_cap:g} (`{_cap_argument(module)}`, per entry)"))
        when = (
            "after the agent, who saw its contract, has acted"
            if game.timing == SEQUENTIAL
            else "chosen with the agents' actions, never seen by them"
        )
        rows.append(
            ("Who pays whom", f"`principal_0` pays each agent the entry for the agent's realised outcome; {when}")
        )
    elif isinstance(terms, PolicyTerms):
        space = game.action_space("principal_0")
        rows.append(("Contract space", f"none: `principal_0` sets a policy, {terms.label} `{space}`"))
        rows.append(("Payment cap", "no payments (the policy's bounds are the space's)"))
        rows.append(("Who pays whom", "no contract payments; money moves by the rules' transfers (see Rules)"))
    else:
        rows.append(("Contract space", "none by default (no principal)"))
    if game.peer_terms is not None:
        rows.append(("Peer payments", f"agents pay each other, up to {game.peer_terms.payment_cap:g} per entry"))
    if game.transfers and game.timing != HIERARCHICAL and not isinstance(terms, PolicyTerms):
        rows.append(("Rule transfers", "the rules also move money between players (see Rewards)"))
    welfare = (
        "the sum of the players' own rewards" if game.principal_in_welfare else "the sum of the agents' own rewards"
    )
    rows.append(("Welfare", welfare + "; payments are transfers and cancel"))
    rows.append(("Exact optimum", getattr(module, "EXACT_OPTIMUM", NO_OPTIMUM)))
    return rows


def _gif_caption(name: str) -> str | None:
    if not GIF_MANIFEST.exists():
        return None
    entry = json.loads(GIF_MANIFEST.read_text()).get(name)
    return None if entry is None else entry["caption"]


def page(name: str) -> str:
    module_name = ENVIRONMENTS[name][1]
    doc = inspect.cleandoc(importlib.import_module(module_name).__doc__ or "")
    lines = doc.splitlines()
    title_at = next((i for i, line in enumerate(lines) if line.startswith("# ")), None)
    if title_at is None:
        raise ValueError(f"{module_name}: the docstring must start with a '# Title' line (it is the doc page)")
    title = lines[title_at][2:].strip()
    figure = [
        "",
        f'<figure class="env-gif" markdown="span">\n  ![{title}](../img/envs/{name}.gif)\n'
        f'  <figcaption markdown="span">{_gif_caption(name) or "Run docs/_scripts/gen_gifs.py to render it."}'
        "</figcaption>\n</figure>",
    ]
    body = lines[: title_at + 1] + figure + lines[title_at + 1 :]
    rows = [f"| **{key}** | {value} |" for key, value in contract_rows(name)]
    start = next((i for i, line in enumerate(body) if line.startswith("|")), None)
    if start is None:  # no property table: start one after the first paragraph
        body += ["", "| | |", "|---|---|", *rows]
    else:
        end = start
        while end < len(body) and body[end].startswith("|"):
            end += 1
        body[end:end] = rows
    header = f"<!-- generated from {module_name} by docs/_scripts/gen_env_pages.py; edit the docstring -->"
    return "\n".join([header, *body]) + "\n"


def gallery() -> str:
    """The environments' index: a card per environment (GIF, id, players, contract, exact optimum)."""
    out = [
        "<!-- generated by docs/_scripts/gen_env_pages.py from the registry -->",
        "# Environments",
        "",
        "Every environment is a PettingZoo Parallel and native AEC environment, a batched stage machine "
        "(`contract_envs.vector.make`) and a pair of role views. Each page below is generated from the rules "
        "module's docstring and the game itself; the pictures are short episodes played by the exact solution "
        "where one exists (the caption says what is played).",
        "",
        '<div class="grid cards" markdown>',
        "",
    ]
    for name in ENVIRONMENTS:
        env_spec = spec(name)
        doc = inspect.cleandoc(env_spec.rules.__doc__ or "")
        title = next((line[2:].strip() for line in doc.splitlines() if line.startswith("# ")), name)
        game = env_spec.make_game()
        rows = dict(contract_rows(name))
        players = ", ".join(f"`{p}`" for p in game.players[:3]) + (", ..." if len(game.players) > 3 else "")
        out += [
            f"-   **[{title}]({name}.md)**",
            "",
            f"    [![{title}](../img/envs/{name}.gif)]({name}.md)",
            "",
            f"    `{env_spec.id}` · players {players}",
            "",
            f"    **Exact optimum:** {rows['Exact optimum']}",
            "",
        ]
    out.append("</div>")
    return "\n".join(out) + "\n"


def pages() -> dict[Path, str]:
    out = {ENVS / f"{name}.md": page(name) for name in ENVIRONMENTS}
    out[ENVS / "index.md"] = gallery()
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
