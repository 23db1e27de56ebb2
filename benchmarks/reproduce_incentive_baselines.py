"""Reproduce the dual-RL designer and LIO baselines on held-out seeds: fractions of the exact optimum and curves.

Runs every configuration below for every seed of a seed set as subprocesses (``--workers`` at a time), each
writing its run folder (``metrics.json``, ``model.pt``) under ``--runs-dir``, then writes
``docs/results/incentives_baselines.md`` and ``docs/results/incentives_baselines.png``. Exact references come
from ``contract_envs.solvers``. The configurations were chosen on ``TUNING_SEEDS``; the page reports
``REPORTING_SEEDS`` (disjoint, never used to choose anything).

    PYTHONPATH=. python benchmarks/reproduce_incentive_baselines.py [--seed-set reporting] [--workers 2] [--only er]

``--report-only`` rebuilds the page from the run folders already in ``--runs-dir``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from benchmarks.grid import run_grid  # noqa: E402
from contract_envs.solvers import (  # noqa: E402
    escape_room_best_designer_return,
    taxlite_continuous_optimum,
    taxlite_solve,
)

REPO = Path(__file__).resolve().parents[1]
ER = "contract_envs/escape_room-v1"
PD = "contract_envs/prisoners_dilemma-v1"
TAX = "contract_envs/tax_economy-v1"
CLEANUP = "contract_envs/cleanup-v1"

# name -> (script, flags); every run adds --seed, --save-model, --runs-dir
CONFIGS: dict[str, tuple[str, list[str]]] = {
    "dualrl_er52_small": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "5",
            "--min-at-lever",
            "2",
            "--designer-action",
            "small",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_er52_gaussian": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "5",
            "--min-at-lever",
            "2",
            "--designer-action",
            "gaussian",
            "--num-iterations",
            "300",
        ],
    ),
    "fixed_er52_lever1.1": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "5",
            "--min-at-lever",
            "2",
            "--fixed-schedule",
            "1.1",
            "0",
            "0",
            "--num-iterations",
            "300",
        ],
    ),
    "none_er52": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "5",
            "--min-at-lever",
            "2",
            "--designer-action",
            "none",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_er32_small": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "3",
            "--min-at-lever",
            "2",
            "--designer-action",
            "small",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_er32_medium": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "3",
            "--min-at-lever",
            "2",
            "--designer-action",
            "medium",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_er32_large": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "3",
            "--min-at-lever",
            "2",
            "--designer-action",
            "large",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_er32_gaussian": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "3",
            "--min-at-lever",
            "2",
            "--designer-action",
            "gaussian",
            "--num-iterations",
            "300",
        ],
    ),
    "fixed_er32_lever1.1": (
        "dual_rl_designer.py",
        [
            "--env-id",
            ER,
            "--n-agents",
            "3",
            "--min-at-lever",
            "2",
            "--fixed-schedule",
            "1.1",
            "0",
            "0",
            "--num-iterations",
            "300",
        ],
    ),
    "dualrl_taxlite": ("dual_rl_designer.py", ["--env-id", TAX, "--num-iterations", "1000"]),
    "dualrl_pd_small": ("dual_rl_designer.py", ["--env-id", PD, "--num-iterations", "300"]),
    "dualrl_cleanup_small": (
        "dual_rl_designer.py",
        ["--env-id", CLEANUP, "--num-envs", "16", "--num-iterations", "100", "--eval-episodes", "128"],
    ),
    "none_cleanup": (
        "dual_rl_designer.py",
        [
            "--env-id",
            CLEANUP,
            "--designer-action",
            "none",
            "--num-envs",
            "16",
            "--num-iterations",
            "100",
            "--eval-episodes",
            "128",
        ],
    ),
    "lio_er21": ("lio_peer_incentives.py", ["--env-id", ER, "--n-agents", "2", "--min-at-lever", "1"]),
    "lio_er32": ("lio_peer_incentives.py", ["--env-id", ER, "--n-agents", "3", "--min-at-lever", "2"]),
    "lio_pd": ("lio_peer_incentives.py", ["--env-id", PD]),
}


# The configurations (and the LIO trials quoted in FINDINGS) were chosen on the tuning seeds; the page reports the
# reporting seeds, never used to choose anything.
TUNING_SEEDS = (1, 2, 3, 4, 5)
REPORTING_SEEDS = (101, 102, 103, 104, 105)
SEED_SETS = {"reporting": REPORTING_SEEDS, "tuning": TUNING_SEEDS}
# The previous page's claims (tuning seeds 1-5, code before contract-envs 0.2), quoted for the comparison.
TUNING_PAGE_CLAIMS = {
    "fixed_er32_lever1.1": "welfare >= 90% of the optimum in 4/5; net 5.31 ± 0.41",
    "dualrl_er32_small": "welfare >= 90% in 0/5; paid ≈ 0",
    "dualrl_taxlite": "rate 1.00 in 5/5 (0/5 within 0.05 of t*)",
    "dualrl_pd_small": "welfare −20 (all defect)",
    "lio_pd": "cooperation: collective −10.00 ± 0.00 (5/5 at the optimum)",
    "lio_er32": "door opens 5/5; 4/5 reach 6.9–8.0 of 8",
    "lio_er21": "1/5 finds the division of labour (8.8 of 9)",
}
FINDINGS_PREVIOUS = [
    "## What the runs show",
    "",
    "* **Dual-RL is learning-oblivious, and it shows.** Agents never see the schedule, so within an episode "
    "the designer's action changes only what it pays; its policy gradient only says 'pay less', and it ends "
    "up paying almost nothing (`paid` ≈ 0): in ER(3,2) the welfare stays negative with every action space "
    "(small, medium, large, Gaussian; agents walk to the door or stay at the start and wait; 0/5 seeds reach "
    "90% of the optimum) while the *same learners under the fixed optimal "
    "schedule* (lever 1.1) reach the optimum in 4/5 seeds with net return close to 10(N−M)−2.1M. In the "
    "PD the designer never pays for C and both agents defect (−20 per episode = the no-intervention value, "
    "which at α = 1 ties with the best designer return −2−2α per step).",
    "* **ER(5,2) is beyond these learners at this budget**: the fixed optimal schedule fails too (every "
    "agent rushes to the door while random lever pulls still open it, then the group stays there; likely "
    "because a single agent that leaves the door is sent back by its policy before a second one joins it, "
    "so the lever move has negative advantage). The ER(5,2) "
    "dual-RL rows therefore say nothing about the designer; they are kept to show the trap.",
    "* **TaxLite**: with the workers' labour fixed, a flat tax with lump-sum redistribution leaves "
    "productivity unchanged and raises equality, so a planner that ignores the workers' response always "
    "prefers t = 1. The dual-RL planner goes to t = 1.0 in every seed (0/5 within 0.05 of t* = 0.75); the "
    "Nash equilibrium at t = 1 gives eq × prod 80 < 93. The learners' own eq × prod is higher than 80 "
    "because the skill-4 worker has not finished converging to zero labour (its policy collapsed early).",
    "* **Cleanup** (smoke level, 1,600 episodes): dual-RL incentives do not beat the no-incentive agents.",
    "* **LIO**: in the PD the agents learn to pay each other for cooperating and reach full cooperation "
    "(the optimum −10) in 5/5 seeds, with gifts near the cap (no cost, LIO's 'profligate incentivization'). "
    "ER(3,2): the door opens in 5/5 seeds and 4/5 reach collective extrinsic return 6.9–8.0 (optimum 8; the "
    "fifth seed sends all three agents to the lever). ER(2,1): only 1/5 seeds finds the division of labour "
    "(8.8 of 9, the door agent paying ≈1.9 per episode); in the others both agents stay at the start. LIO's reported "
    "near-optimal ER(2,1) result uses 50,000 single-episode updates; this batched, shortened run is less "
    "reliable on it. On the failing seeds 2 and 4, entropy 0.05, `lr_actor` 0.03, or `lr_reward` 3e-3 with "
    "600 iterations did not help either (single runs, not tabulated).",
    "",
]

NOTES = [
    "## Deviations from the sources (and why)",
    "",
    "Both baselines are batched: one iteration collects many episodes at once with "
    "`contract_envs.vector.make(env_id, num_envs)` and makes one update, instead of the papers' one episode per "
    "update, so that a run fits in minutes on a 2-core machine. Runs are far shorter than the papers' "
    "(A: 100,000 episodes in Escape Room; LIO: 50,000); learning rates are raised accordingly.",
    "",
    "**Dual-RL designer** (`baselines/dual_rl_designer.py`; A's `alg/id_er_pg.py`, `train_er.py`):",
    "* Like A, the designer observes its observation and the agents' one-hot joint action, samples an index "
    "into a d^K set (A's small {0, 1.1}, medium {0, 1.1, 2}, large {0, .5, 1.1, 1.5, 2}) or a squashed Gaussian "
    "`cap * sigmoid(u)`, and learns by REINFORCE on the discounted return of welfare − paid (A: "
    "`env_rewards[0] -= sum(incentives)`). Added: a per-step batch-mean baseline (A has none) and an entropy "
    "bonus on the discrete policy.",
    "* The Gaussian is over the K action types (the environment's shared `per_action` schedule) with a learned "
    "state-independent std; A's Gaussian is per agent with std 1.",
    "* Agents: independent REINFORCE learners (MLP 64-32 as in A) with a per-step batch-mean baseline, "
    "entropy 0.01 (A: 0.0166), Adam 3e-3 on a batch of 128 episodes (A: SGD 9.56e-5 per episode).",
    "* TaxLite: the planner's action is the flat rate on the grid {0, 0.05, ..., 1} (the solver's grid); it does "
    "not observe the labour choices (the rate is set for the period before workers act). A's GTB dual-RL "
    "planner is a PPO agent in the AI-Economist style; TaxLite is one step (a bandit for the planner), so plain "
    "REINFORCE stands in for PPO.",
    "* Cleanup: agents are MLPs on the flattened 9x9x3 window (A: actor-critic with parameter sharing, CNN), and "
    "only 1,600 episodes per seed were affordable: a smoke-level comparison, not a reproduction.",
    "* `fixed_*` and `none_*` rows are not from A: they are references that run the same learners under the "
    "exact optimum's schedule or under no incentives.",
    "",
    "**LIO** (`baselines/lio_peer_incentives.py`; LIO's `lio_agent.py`, `train_pg.py`, `config_room_lio.py`):",
    "* The incentive function maps the giver's observation to a gift *schedule over each recipient's action* "
    "(the environment's peer action), `cap * sigmoid`, instead of an MLP of (observation, others' joint action) "
    "giving one amount per recipient; identical for N = 2, and for N = 3 a gift cannot depend on a third "
    "agent's action.",
    "* Two batches of 64 episodes per iteration (tau with theta, tau_hat with theta_hat), as LIO's two episodes "
    "per iteration. The policy step is one plain gradient step (lr 0.1) on the batch-mean PG objective of "
    "environment reward + gifts received (LIO's total reward), with a per-step batch-mean baseline inside the "
    "differentiable step; `lr_reward` 1e-2 instead of LIO's 1e-3 (runs ~50x shorter); `lr_cost` 1e-4 with a "
    "separate Adam as in LIO; L1 on the gifts actually given in tau. IPD: no cost (LIO's `reg_coeff` 0), "
    "gifts capped at 3 (`r_multiplier`).",
    "* The environment also debits the giver (gifts are money transfers of the contract layer); as in LIO the "
    "giver's policy is trained on extrinsic reward + gifts received, and what it gives enters only through the "
    "L1 cost of its incentive function. 'Collective extrinsic return' excludes all transfers.",
    "",
]


def command(name: str, seed: int, runs_dir: Path) -> list[str]:
    script, flags = CONFIGS[name]
    return [
        sys.executable,
        str(REPO / "baselines" / script),
        *flags,
        "--seed",
        str(seed),
        "--save-model",  # so that a run can be evaluated again (--eval-checkpoint) without retraining
        "--runs-dir",
        str(runs_dir / f"{name}__s{seed}"),
    ]


def run_one(name: str, seed: int, runs_dir: Path) -> tuple[str, int, float]:
    start = time.time()
    out = subprocess.run(
        command(name, seed, runs_dir),
        cwd=runs_dir,
        capture_output=True,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(REPO)),
    )
    if out.returncode != 0:
        raise RuntimeError(f"{name} seed {seed} failed:\n{out.stderr[-3000:]}")
    wall = time.time() - start
    print(f"{name} seed {seed}: {wall:.1f} s", flush=True)
    return name, seed, wall


def mean_se(values) -> tuple[float, float]:
    v = np.asarray(values, dtype=np.float64)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else 0.0


def fmt(values, digits: int = 2) -> str:
    m, s = mean_se(values)
    return f"{m:.{digits}f} ± {s:.{digits}f}"


def pct(values) -> str:
    m, s = mean_se(values)
    return f"{100 * m:.1f}% ± {100 * s:.1f}"


def load(runs_dir: Path, seeds) -> dict[str, list[dict]]:
    """The newest run folder of every configuration and seed (``metrics.json``, metrics/v1 schema)."""
    results: dict[str, list[dict]] = {}
    for name in CONFIGS:
        runs = []
        for seed in seeds:
            found = sorted((runs_dir / f"{name}__s{seed}").glob("*/metrics.json"))
            if found:
                runs.append(json.loads(found[-1].read_text()))
        if runs:
            results[name] = runs
    return results


def er_rows(results) -> list[str]:
    rows = [
        "| configuration | N, M | episodes | **designer return / limit** | **welfare / optimum** | welfare ≥ 90% "
        "| greedy profile optimal and an exact equilibrium | best responder's gain vs the sampled policies "
        "| welfare | designer net return | paid / episode | door opened | lever moves | limit (best net of the "
        "action set) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, runs in results.items():
        if not (name.startswith("dualrl_er") or name.startswith(("fixed_er", "none_er"))):
            continue
        kw = runs[0]["env_kwargs"]
        n, m = kw["n_agents"], kw["min_at_lever"]
        ev = [r["final"] for r in runs]
        hits = sum(e["welfare_fraction_of_optimum"] >= 0.9 for e in ev)
        own = ev[0].get("action_set_best_designer_return")
        rows.append(
            f"| {name} | ({n}, {m}) | {ev[0]['episodes']:,.0f} "
            f"| {pct([e['designer_return_fraction_of_limit'] for e in ev])} "
            f"| {pct([e['welfare_fraction_of_optimum'] for e in ev])} | {hits}/{len(ev)} "
            f"| {sum(e['greedy_start_profile_optimal'] and e['greedy_br_is_equilibrium'] for e in ev):.0f}/{len(ev)} "
            f"| {fmt([e['br_gain_max'] for e in ev])} "
            f"| {fmt([e['welfare'] for e in ev])} | {fmt([e['designer_return'] for e in ev])} "
            f"| {fmt([e['paid'] for e in ev])} | {fmt([e['door_open'] for e in ev])} | {fmt([e['lever'] for e in ev])} "
            f"| {escape_room_best_designer_return(n, m):g}{f' ({own:g})' if own is not None else ''} |"
        )
    return rows


def tax_rows(results) -> list[str]:
    if "dualrl_taxlite" not in results:
        return []
    sol, best = taxlite_solve(), taxlite_continuous_optimum(tol=1e-7)
    runs = results["dualrl_taxlite"]
    ev = [r["final"] for r in runs]
    rates = [e["tax_rate"] for e in ev]
    within = sum(e["rate_error"] <= 0.05 + 1e-9 for e in ev)
    labour = np.mean([[e[f"mean_action_agent_{i}"] for i in range(4)] for e in ev], axis=0)
    return [
        "| quantity | dual-RL planner (mean ± s.e.) | exact |",
        "|---|---|---|",
        f"| **eq × prod of the learners' play / optimum** | {pct([e['eq_x_prod'] / best.objective for e in ev])} "
        f"| {best.objective:.2f} at t = {best.rate:.4f} (continuous rates) |",
        f"| **eq × prod of the exact equilibrium at the learned rate / optimum** "
        f"| {pct([e['equilibrium_eq_x_prod_at_rate'] / best.objective for e in ev])} "
        f"| {100 * sol.best_objective / best.objective:.1f}% at the grid's t* = {sol.best_rate:g} |",
        f"| final tax rate (mean rate applied in evaluation) | {fmt(rates, 3)} | t* = {sol.best_rate:g} |",
        f"| seeds within 0.05 of t* | {within}/{len(rates)} | — |",
        f"| final rates per seed | {', '.join(f'{t:.2f}' for t in rates)} | — |",
        f"| eq × prod of the learners' play | {fmt([e['eq_x_prod'] for e in ev])} | {sol.best_objective:.1f} |",
        f"| learners' greedy labour an exact equilibrium against the planner's rate distribution "
        f"| {sum(e['greedy_br_is_equilibrium'] for e in ev):.0f}/{len(ev)} (best responder's gain "
        f"{fmt([e['greedy_br_gain_max'] for e in ev])}) | — |",
        f"| learners' mean labour (skills 1, 2, 4, 8) | {', '.join(f'{x:.2f}' for x in labour)} "
        f"| {tuple(int(x) for x in sol.labour[sol.at(sol.best_rate)])} at t* |",
    ]


def simple_rows(results, names, reference) -> list[str]:
    rows = []
    for name in names:
        if name not in results:
            continue
        runs = results[name]
        ev = [r["final"] for r in runs]
        if runs[0]["algorithm"] == "lio_peer_incentives":
            key = "extrinsic_fraction_of_optimum" if "extrinsic_fraction_of_optimum" in ev[0] else "welfare_normalised"
            rows.append(
                f"| {name} | {ev[0]['episodes']:,.0f} | {pct([e[key] for e in ev])} "
                f"| {fmt([e['collective_extrinsic'] for e in ev])} | {fmt([e['gifts_total'] for e in ev])} "
                f"| {reference.get(name, '—')} |"
            )
        else:
            primary = pct([e["welfare_normalised"] for e in ev]) if "welfare_normalised" in ev[0] else "—"
            if "greedy_cooperates_on_path" in ev[0]:
                cooperate = sum(bool(e["greedy_cooperates_on_path"] and e["greedy_br_is_equilibrium"]) for e in ev)
                defect = sum(bool(not e["greedy_cooperates_on_path"] and e["greedy_br_is_equilibrium"]) for e in ev)
                primary += (
                    f" (greedy play an exact equilibrium: cooperative {cooperate}/{len(ev)}, not {defect}/{len(ev)})"
                )
            rows.append(
                f"| {name} | {ev[0]['episodes']:,.0f} | {primary} | {fmt([e['welfare'] for e in ev])} "
                f"(net {fmt([e['designer_return'] for e in ev])}) | {fmt([e['paid'] for e in ev])} "
                f"| {reference.get(name, '—')} |"
            )
    if rows:
        rows = [
            "| configuration | episodes | **fraction of the exact optimum** | collective extrinsic return or welfare "
            "| paid or gifted / episode | exact reference |",
            "|---|---|---|---|---|---|",
            *rows,
        ]
    return rows


def claims(name: str, runs: list[dict]) -> str:
    """The previous page's claims measured again on ``runs``."""
    ev = [r["final"] for r in runs]
    if not ev:
        return "—"
    if "welfare_fraction_of_optimum" in ev[0]:
        return (
            f"welfare >= 90% in {sum(e['welfare_fraction_of_optimum'] >= 0.9 for e in ev)}/{len(ev)}; "
            f"net {fmt([e['designer_return'] for e in ev])}; paid {fmt([e['paid'] for e in ev])}"
        )
    if "rate_error" in ev[0]:
        within = sum(e["rate_error"] <= 0.05 + 1e-9 for e in ev)
        rates = ", ".join(f"{e['tax_rate']:.2f}" for e in ev)
        return f"rates {rates} ({within}/{len(ev)} within 0.05 of t*)"
    if "extrinsic_fraction_of_optimum" in ev[0]:
        return f"door opens in {sum(e['door_open'] >= 0.9 for e in ev)}/{len(ev)}; collective " + ", ".join(
            f"{e['collective_extrinsic']:.1f}" for e in ev
        )
    key = "collective_extrinsic" if "collective_extrinsic" in ev[0] else "welfare"
    return f"collective {', '.join(f'{e[key]:.1f}' for e in ev)}"


def plot(results, path: Path) -> None:
    panels = [
        (
            "Escape Room: dual-RL / references (welfare)",
            [n for n in results if "_er" in n and "lio" not in n],
            "welfare",
        ),
        ("TaxLite: dual-RL planner's tax rate", ["dualrl_taxlite"], "tax_rate"),
        ("LIO: collective extrinsic return", [n for n in results if n.startswith("lio")], "collective_extrinsic"),
        (
            "PD and Cleanup: welfare",
            [n for n in ("dualrl_pd_small", "dualrl_cleanup_small", "none_cleanup") if n in results],
            "welfare",
        ),
    ]
    fig, axes = plt.subplots(2, 2, figsize=(13, 9))
    for ax, (title, names, key) in zip(axes.flat, panels, strict=True):
        for name in names:
            if name not in results:
                continue
            curves = np.array([[h[key] for h in r["history"]] for r in results[name]])
            m = curves.mean(0)
            s = curves.std(0, ddof=1) / np.sqrt(len(curves)) if len(curves) > 1 else np.zeros_like(m)
            x = [h["episodes"] for h in results[name][0]["history"]]
            ax.plot(x, m, label=name)
            ax.fill_between(x, m - s, m + s, alpha=0.25)
        if key == "tax_rate":
            ax.axhline(0.75, color="k", ls="--", lw=0.8, label="t* = 0.75")
        ax.set_title(title)
        ax.set_xlabel("training episodes")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(results, tuning, walls, seed_set, seeds, workers, loads, out_md: Path, out_png: Path) -> None:
    plot(results, out_png)
    cmd_lines = [
        " ".join(["PYTHONPATH=.", "python", f"baselines/{CONFIGS[n][0]}", *CONFIGS[n][1], "--seed", "S"])
        for n in results
    ]
    wall_rows = [
        "| configuration | mean process wall-clock per seed (s) | mean training time per seed (s) |",
        "|---|---|---|",
    ]
    for name, runs in results.items():
        w = [walls[f"{name}__s{r['seed']}"] for r in runs if f"{name}__s{r['seed']}" in walls]
        train = np.mean([r["final"]["train_seconds"] for r in runs])
        wall_rows.append(f"| {name} | {np.mean(w):.1f} | {train:.1f} |" if w else f"| {name} | — | {train:.1f} |")
    seed_text = ", ".join(map(str, seeds))
    lines = [
        "# Incentive-designer baselines: dual-RL designer and LIO",
        "",
        f"Generated by `PYTHONPATH=. python benchmarks/reproduce_incentive_baselines.py --seed-set {seed_set} "
        f"--workers {workers}`. **Seeds**: the configurations (and the LIO trials quoted below) were chosen on "
        f"the tuning seeds {', '.join(map(str, TUNING_SEEDS))}; the tables report the {seed_set} seeds "
        f"{seed_text}" + (", never used to choose anything" if seed_set == "reporting" else "") + ". Numbers: "
        "mean ± standard error over seeds of the *final evaluation* (the trained policies sampled on 512 fresh "
        "episodes, 128 for Cleanup). **Primary columns** (bold): fractions of the exact optimum from "
        "`contract_envs.solvers` (Escape Room designer return over the limit 10(N−M)−2M and welfare over "
        "10(N−M)−M; PD welfare between all-D and all-C; TaxLite productivity × equality over its optimum over "
        "continuous rates, 96.0 at t = 0.743 (the dual-RL planner's own 0.05 grid allows 93.0 at t* = 0.75), of the "
        "learners' play and of the exact equilibrium at the learned rate; LIO collective extrinsic return over "
        "the optimum); raw numbers are secondary.",
        "",
        f"Machine: {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), shared with other "
        f"developers' jobs (load average 1/5/15 min: {loads}), {workers} runs at a time, torch with 1 thread per "
        "run; per-configuration wall-clock at the end.",
        "",
        "## Escape Room, dual-RL designer (learning-oblivious) and references",
        "",
        "`dualrl_*`: the designer is an RL agent choosing an incentive vector every step (small {0, 1.1}^3, "
        "medium {0, 1.1, 2}^3, large {0, .5, 1.1, 1.5, 2}^3, or Gaussian), rewarded by welfare − paid. "
        "`fixed_*_lever1.1`: the same learners with the designer replaced by the fixed schedule "
        "(lever 1.1, start 0, door 0), the exact optimum's incentive: it separates learner noise from designer "
        "failure. `none_*`: no incentives. Limit: the supremum of the designer return, 10(N−M)−2M (lever "
        "incentive ↓ 1); in parentheses the best return the designer's own action set allows (10(N−M)−2.1M with "
        "{0, 1.1}).",
        "",
        *er_rows(results),
        "",
        "## TaxLite, dual-RL planner (action = flat tax rate on the grid 0, 0.05, ..., 1)",
        "",
        *tax_rows(results),
        "",
        "## Prisoner's Dilemma and Cleanup, dual-RL designer",
        "",
        *simple_rows(
            results,
            ["dualrl_pd_small", "dualrl_cleanup_small", "none_cleanup"],
            {
                "dualrl_pd_small": "welfare −10 (all C), −20 (all D); net −2−2α per step → −20 at α = 1",
                "dualrl_cleanup_small": "none (compare with none_cleanup)",
            },
        ),
        "",
        "## LIO (agents pay each other), peer variants",
        "",
        *simple_rows(
            results,
            ["lio_er21", "lio_er32", "lio_pd"],
            {
                "lio_er21": "9 (ER(2,1) optimum)",
                "lio_er32": "8 (ER(3,2) optimum)",
                "lio_pd": "−10 (all C for 5 steps); −20 all D",
            },
        ),
        "",
        "## Held-out seeds against the tuning seeds",
        "",
        f"| configuration | previous page (tuning seeds 1-5, older code) | tuning seeds rerun with this code "
        f"| {seed_set} seeds |",
        "|---|---|---|---|",
        *[
            f"| {n} | {TUNING_PAGE_CLAIMS[n]} | {claims(n, tuning.get(n, []))} | {claims(n, results.get(n, []))} |"
            for n in TUNING_PAGE_CLAIMS
        ],
        "",
        *FINDINGS,
        "![curves](incentives_baselines.png)",
        "",
        "## Findings of the previous page (tuning seeds 1-5, older code; kept for the record)",
        "",
        *FINDINGS_PREVIOUS[2:],
        *NOTES,
        "",
        f"## Commands (S = seed: {seed_text}; every run adds `--save-model --runs-dir ...`) and wall-clock",
        "",
        "```",
        *cmd_lines,
        "```",
        "",
        *wall_rows,
        "",
    ]
    out_md.write_text("\n".join(lines))


FINDINGS = [
    "## What the reporting seeds show",
    "",
    "(written after the reporting runs)",
    "",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed-set", default="reporting", choices=list(SEED_SETS))
    parser.add_argument("--max-seeds", type=int, default=None, help="use only the first k seeds of the set")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--address", default=None, help="Ray cluster address (default: a local Ray instance)")
    parser.add_argument("--only", default="", help="comma-separated substrings of configuration names")
    parser.add_argument("--runs-dir", default=str(REPO / "runs" / "reproduce_incentive_baselines"))
    parser.add_argument("--out", default=str(REPO / "docs" / "results" / "incentives_baselines.md"))
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    seeds = SEED_SETS[args.seed_set][: args.max_seeds]
    runs_dir = Path(args.runs_dir)
    runs_dir.mkdir(parents=True, exist_ok=True)
    walls_path = runs_dir / "wall_clock.json"
    walls = json.loads(walls_path.read_text()) if walls_path.exists() else {}
    loads = walls.pop("__loads__", [])
    if not args.report_only:
        names = [n for n in CONFIGS if not args.only or any(s in n for s in args.only.split(","))]
        jobs = [(n, s) for n in names for s in seeds]
        loads.append(", ".join(f"{x:.2f}" for x in os.getloadavg()))
        for name, seed, wall in run_grid(lambda job: run_one(*job, runs_dir), jobs, args.workers, args.address):
            walls[f"{name}__s{seed}"] = wall
        loads.append(", ".join(f"{x:.2f}" for x in os.getloadavg()))
        walls_path.write_text(json.dumps({**walls, "__loads__": loads}))
    results = load(runs_dir, seeds)
    tuning = load(runs_dir, TUNING_SEEDS) if args.seed_set == "reporting" else {}
    out_md = Path(args.out)
    out_md.parent.mkdir(parents=True, exist_ok=True)
    load_text = "; ".join(loads) if loads else "not recorded"
    write_report(
        results, tuning, walls, args.seed_set, seeds, args.workers, load_text, out_md, out_md.with_suffix(".png")
    )
    print(f"wrote {out_md} and {out_md.with_suffix('.png')}")


if __name__ == "__main__":
    main()
