"""Reproduce PARL's Coin Game comparison (arXiv 2407.18074, Sec. 5 / Fig. 2 and 4) over held-out seeds.

Runs, per seed, the baselines of ``baselines/`` by subprocess (each script stays standalone):

1. ``dqn_independent.py --objective selfish``: the dilemma (no principal);
2. ``parl_coin_game.py``: PARL's training phase, then fresh selfish validation agents, scored exactly;
3. ``dqn_independent.py --reward-sharing p``: the constant-proportion baseline, budget-matched:
   ``p`` = the mean payment share (payments / welfare) PARL's principal paid in evaluation;
4. optionally (``--methods ... welfare``) ``dqn_independent.py --objective welfare``: a learned cooperative reference.

Every welfare figure is a fraction of the exact optimum W* (``solve_coin_game_welfare``); the learned and scripted
cooperative references are secondary columns. PARL's IC and SPE ratios come from exact best responses (DP over
every state given the frozen principal and the other agent's frozen policy), not from the evaluated agents' own
Q-values. Writes a results page (mean +- standard error over seeds, per-seed rows, targets, wall-clock,
env-steps/s and load average) and a plot of the learning curves.

**Seeds.** ``TUNING_SEEDS`` were used during development (the earlier 1-5 runs, the choice of ``num_envs`` and the
CI test's budget); ``REPORTING_SEEDS`` were never used to choose anything and are the default.

Run (7x7 at PARL's budget, 1,000,000 env steps per phase):
``PYTHONPATH=. python benchmarks/reproduce_parl.py --preset parl --jobs 2``
Fast check: ``PYTHONPATH=. python benchmarks/reproduce_parl.py --preset parl_3x3 --env-steps 64000 --seeds 101 102``
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import tyro

from benchmarks.grid import run_grid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from coin_game_dilemma import Args as DilemmaArgs  # noqa: E402
from coin_game_dilemma import scripted_welfare  # noqa: E402

#: seeds used while developing the baselines and choosing their settings (never reported as results)
TUNING_SEEDS = (1, 2, 3, 4, 5)
#: held-out seeds of the reported results
REPORTING_SEEDS = (101, 102, 103, 104, 105)


@dataclass
class Args:
    preset: Literal["parl", "parl_3x3"] = "parl"
    """Coin Game preset"""
    seeds: list[int] = field(default_factory=lambda: list(REPORTING_SEEDS))
    """seeds (one run of every method per seed); the default is the held-out reporting seeds"""
    methods: list[str] = field(default_factory=lambda: ["selfish", "parl", "reward_sharing"])
    """methods to run: selfish, parl, reward_sharing (budget-matched to PARL), welfare (learned cooperative DQN)"""
    env_steps: int = 1_000_000
    """env steps of every independent run and of each PARL phase (PARL: 1,000,000)"""
    num_envs: int = 64
    """parallel environments per iteration"""
    nudge: float = 0.0
    """PARL nudge margin"""
    eval_episodes: int = 256
    """greedy evaluation episodes per run"""
    jobs: int = 1
    """runs in parallel"""
    address: str | None = None
    """Ray cluster address (None: a local Ray instance when jobs > 1)"""
    resume: bool = False
    """reuse the runs whose metrics JSON already exists in `out_dir`"""
    out_dir: str = "runs/reproduce_parl"
    """where the per-run metrics JSON files and run folders go"""
    doc_path: str = "docs/results/parl_coin_game_7x7.md"
    """the results page"""
    extra: list[str] = field(default_factory=list)
    """extra arguments passed to every script (e.g. `--extra=--learning-starts=200`)"""
    agents: list[int] = field(default_factory=lambda: [2])
    """numbers of agents; anything but [2] runs the multi-agent comparison (PARL and selfish DQN per number of
    agents) and writes `multi_agent_doc_path`"""
    multi_agent_doc_path: str = "docs/results/parl_coin_game_agents.md"
    """the multi-agent results page"""


def run_script(script: str, args: list[str], metrics_path: str, runs_dir: str, resume: bool = False) -> dict:
    """Run a baseline (or, with ``resume``, reuse its metrics JSON if it exists); the command is attached."""
    cmd = [sys.executable, os.path.join("baselines", script), *args, "--metrics-path", metrics_path]
    if not (resume and os.path.exists(os.path.join(ROOT, metrics_path))):
        subprocess.run(
            [*cmd, "--runs-dir", runs_dir],
            check=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    with open(os.path.join(ROOT, metrics_path)) as fh:
        metrics = json.load(fh)
    return metrics | {"command": "PYTHONPATH=. python " + " ".join(cmd[1:])}


def mean_se(values: list[float]) -> tuple[float, float]:
    v = np.asarray([x for x in values if x == x], dtype=float)
    if len(v) == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else float("nan")


def fmt(values: list[float], pct: bool = False, digits: int = 2) -> str:
    m, se = mean_se(values)
    scale, unit = (100.0, "%") if pct else (1.0, "")
    if m != m:
        return "n/a"
    digits = 1 if pct else digits
    mean = f"{m * scale:.{digits}f}{unit}"
    return f"{mean} ± {se * scale:.{digits}f}{unit}" if se == se else mean


def plot(results: dict[str, list[dict]], w_star: float, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    colours = {
        "selfish": "tab:red",
        "welfare": "tab:green",
        "reward_sharing": "tab:orange",
        "parl_training": "tab:gray",
        "parl": "tab:blue",
    }
    series = {m: (rs, None) for m, rs in results.items() if m != "parl"}
    if "parl" in results:
        series["parl_training"] = (results["parl"], "training")
        series["parl"] = (results["parl"], "validation")
    for method, (runs, phase) in series.items():
        curves = [[h for h in r["history"] if h.get("phase") == phase] for r in runs]
        curves = [c for c in curves if c]
        if not curves:
            continue
        length = min(len(c) for c in curves)
        steps = np.array([h["step"] for h in curves[0][:length]])
        for ax, key in zip(axes, ("welfare", "payment_share", "follow_rate"), strict=True):
            if key not in curves[0][0]:
                continue
            ys = np.array([[h[key] for h in c[:length]] for c in curves], dtype=float)
            if key == "welfare":
                ys = ys / w_star
            mean = np.nanmean(ys, axis=0)
            se = np.nanstd(ys, axis=0, ddof=1) / np.sqrt(len(ys)) if len(ys) > 1 else np.zeros_like(mean)
            label = {"parl": "PARL validation phase", "parl_training": "PARL training phase"}.get(method, method)
            ax.plot(steps, mean, label=label, color=colours[method])
            ax.fill_between(steps, mean - se, mean + se, alpha=0.2, color=colours[method])
    axes[0].axhline(1.0, color="k", lw=0.8, ls="--")
    titles = ("welfare / W* (exact optimum)", "payments / welfare", "recommendations followed")
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel("environment steps (of the phase)")
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=90)


def main(args: Args) -> None:
    if args.agents != [2]:
        return multi_agent(args)
    out_dir = args.out_dir
    os.makedirs(os.path.join(ROOT, out_dir), exist_ok=True)
    common = ["--preset", args.preset, "--num-envs", str(args.num_envs), "--eval-episodes", str(args.eval_episodes)]
    common += args.extra
    start = time.time()
    load_start = os.getloadavg()

    def job(method: str, seed: int, p: float = 0.0) -> dict:
        out = f"{out_dir}/{args.preset}_{method}_{seed}.json"
        seed_args = ["--seed", str(seed), *common]
        runs_dir = f"{out_dir}/runs"
        if method == "parl":
            budget = ["--total-env-steps", str(args.env_steps), "--nudge", str(args.nudge), "--save-model"]
            return run_script("parl_coin_game.py", [*seed_args, *budget], out, runs_dir, args.resume)
        extra = ["--objective", "welfare"] if method == "welfare" else []
        if method == "reward_sharing":
            extra = ["--reward-sharing", f"{p:.4f}"]
        budget = ["--total-env-steps", str(args.env_steps), "--save-model"]
        return run_script("dqn_independent.py", [*seed_args, *budget, *extra], out, runs_dir, args.resume)

    results: dict[str, list[dict]] = {}
    first_methods = [m for m in args.methods if m != "reward_sharing"]
    first = [(m, s) for m in first_methods for s in args.seeds]
    for (m, _), result in zip(first, run_grid(lambda t: job(*t), first, args.jobs, args.address), strict=True):
        results.setdefault(m, []).append(result)
    p = float("nan")
    if "parl" in results:
        p = float(np.clip(np.nanmean([r["final"]["exact_payment_share"] for r in results["parl"]]), 0.0, 1.0))
    if "reward_sharing" in args.methods:
        results["reward_sharing"] = run_grid(lambda s: job("reward_sharing", s, p), args.seeds, args.jobs, args.address)
    total_wall = time.time() - start
    for run in results.get("parl", []):
        complete_evaluation(run, args.out_dir)
    write_page(args, results, p, total_wall, load_start, os.getloadavg())


def complete_evaluation(run: dict, out_dir: str) -> None:
    """Runs made before ``ic_ratio_binary`` existed: evaluate their saved model again and take the new keys."""
    if "ic_ratio_binary" in run["final"]:
        return
    import glob

    pattern = os.path.join(ROOT, out_dir, "runs", f"parl_coin_game__coin_game__{run['seed']}__*", "model.pt")
    done = (p for p in sorted(glob.glob(pattern)) if os.path.exists(os.path.join(os.path.dirname(p), "metrics.json")))
    trained = list(done)
    if not trained:
        return
    eval_path = os.path.join(ROOT, out_dir, f"eval_{os.path.basename(os.path.dirname(trained[-1]))}.json")
    if not os.path.exists(eval_path):
        cli = ["--eval-checkpoint", trained[-1], "--eval-episodes", str(run["args"]["eval_episodes"])]
        cli += ["--metrics-path", eval_path, "--runs-dir", os.path.join(ROOT, out_dir, "runs_eval")]
        subprocess.run(
            [sys.executable, os.path.join("baselines", "parl_coin_game.py"), *cli],
            check=True,
            cwd=ROOT,
            env=dict(os.environ, PYTHONPATH=ROOT),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    with open(eval_path) as fh:
        evaluated = json.load(fh)["final"]
    run["final"] |= {k: v for k, v in evaluated.items() if k not in run["final"]}


def write_page(args: Args, results: dict, p: float, total_wall: float, load_start, load_end) -> None:
    from contract_envs.games.coin_game import coin_game_rules
    from contract_envs.solvers import solve_coin_game_welfare

    w_star = solve_coin_game_welfare(coin_game_rules(args.preset), store_values=False).value
    scripted = scripted_welfare(args.preset, "random", "own_only", DilemmaArgs(num_envs=256, episodes_per_env=4))
    greedy = scripted_welfare(args.preset, "random", "greedy", DilemmaArgs(num_envs=256, episodes_per_env=4))
    labels = {
        "selfish": "independent DQN, selfish (the dilemma)",
        "welfare": "independent DQN, welfare objective (learned cooperative reference)",
        "reward_sharing": f"constant-proportion sharing, p = {p:.3f} (budget-matched to PARL)",
        "parl": "PARL: frozen principal + fresh selfish DQN agents",
    }
    rows = []
    for method in ("selfish", "welfare", "reward_sharing", "parl"):
        if method not in results:
            continue
        finals = [r["final"] for r in results[method]]
        if method == "parl":
            welfare = [f["exact_welfare"] for f in finals]
            cells = [
                fmt([f["exact_payment_share"] for f in finals], pct=True),
                fmt([f["exact_follow_rate"] for f in finals], pct=True),
                fmt([f["spe_ratio"] for f in finals], digits=3),
                fmt([f["ic_ratio"] for f in finals], digits=3),
                fmt([f.get("ic_ratio_binary", float("nan")) for f in finals], digits=3),
                "–",
            ]
        else:
            welfare = [f["eval_welfare"] for f in finals]
            cells = ["–", "–", "–", "–", "–", fmt([f["eval_own_coin_share"] for f in finals], pct=True)]
        rows.append(
            f"| {labels[method]} | {fmt([w / w_star for w in welfare], pct=True)} | {fmt(welfare)} | "
            f"{fmt([w / scripted.mean() for w in welfare], pct=True)} | " + " | ".join(cells) + " |"
        )
    parl = results.get("parl", [])
    per_seed = "\n".join(
        f"| {r['seed']} | {r['final']['exact_welfare_fraction_of_optimum']:.1%} | "
        f"{r['final']['eval_welfare_fraction_of_optimum']:.1%} ± {r['final']['eval_welfare_se'] / w_star:.1%} | "
        f"{r['final']['exact_payment_share']:.1%} | {r['final']['exact_follow_rate']:.1%} | "
        f"{r['final']['spe_ratio']:.3f} | {r['final']['ic_ratio']:.3f} | "
        f"{r['final'].get('ic_ratio_binary', float('nan')):.3f} | "
        f"{r['final']['validators_exploitability']:.2f} | "
        f"{r['final']['wall_clock_s'] / 60:.1f} | {r['final']['env_steps_per_s']:.0f} | "
        f"{r['final']['load_average_start']:.1f} / {r['final']['load_average_end']:.1f} |"
        for r in parl
    )
    checks = {
        "welfare >= 90% of W*": [r["final"]["exact_welfare_fraction_of_optimum"] >= 0.9 for r in parl],
        "payments <= 35% of welfare": [r["final"]["exact_payment_share"] <= 0.35 for r in parl],
    }
    targets = "\n".join(f"- {name}: met in {sum(ok)}/{len(ok)} seeds" for name, ok in checks.items())
    walls = "; ".join(
        f"{m} {np.mean([r['final']['wall_clock_s'] for r in rs]) / 60:.1f} min "
        f"({np.mean([r['final']['env_steps_per_s'] for r in rs]):.0f} env-steps/s)"
        for m, rs in results.items()
    )
    stem = os.path.splitext(os.path.basename(args.doc_path))[0]
    img = os.path.join(os.path.dirname(args.doc_path), "img", f"{stem}.png")
    plot(results, w_star, os.path.join(ROOT, img))
    commands = "\n".join(
        sorted(
            {
                r["command"].replace(f"--metrics-path {args.out_dir}/", "--metrics-path <out>/")
                for rs in results.values()
                for r in rs
                if "command" in r
            }
        )
    )
    page = f"""# PARL on the Coin Game ({args.preset}): results on held-out seeds

Generated by `PYTHONPATH=. python benchmarks/reproduce_parl.py {" ".join(sys.argv[1:])}`
(preset `{args.preset}`, reporting seeds {args.seeds}, never used to choose a setting; tuning seeds
{list(TUNING_SEEDS)}). Budget: {args.env_steps:,} env steps per run and per PARL phase, {args.num_envs}
environments per iteration. Whole reproduction: **{total_wall / 60:.1f} min** wall-clock, {args.jobs} run(s) at a
time, on the project's shared 2-core CPU machine (load average {load_start[0]:.1f} at the start,
{load_end[0]:.1f} at the end). Mean wall-clock per run: {walls}.

**Scoring.** W* = {w_star:.3f} is the exact optimum of the expected welfare per episode (centralised control,
`contract_envs.solvers.solve_coin_game_welfare`). PARL's welfare, payments and follow rate are *exact*
expectations of the deployed system (frozen principal + greedy validation agents), by dynamic programming over
every state (`TwoAgentCoinGameDP` in `baselines/parl_coin_game.py`); the independent baselines are scored on
{args.eval_episodes} greedy episodes. Secondary reference: the scripted own-colour convention
(`benchmarks/coin_game_dilemma.py`, {scripted.mean():.2f} ± {scripted.std(ddof=1) / np.sqrt(len(scripted)):.2f},
{scripted.mean() / w_star:.1%} of W*); scripted greedy grabbing: {greedy.mean():.2f} ({greedy.mean() / w_star:.1%}).
SPE / IC ratios (PARL Fig. 2 d, e): an agent's exact best-response value over its value of following the
recommendations, the other agent following (SPE) or playing its validation policy (IC), averaged over the two
agents; 1 = following is a best response. "Binary deviations": the same over PARL's strategy space only (follow
throughout, or ignore the contracts throughout with the best unpaid policy), on which its dominant-strategy IC is
stated.

| method | welfare / W* | welfare / episode | / scripted own-colour | payments / welfare | followed | SPE ratio | \
IC ratio | IC ratio, binary deviations | own-colour coins |
|---|---|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Mean ± standard error over {len(args.seeds)} seeds.

![curves](img/{os.path.basename(img)})

Curves: 80-episode windows of each independent baseline and of PARL's training and validation phases (welfare as a
fraction of W*); shading: standard error over seeds.

## PARL per seed

| seed | welfare / W* (exact) | welfare / W* ({args.eval_episodes} episodes) | payments / welfare | followed | \
SPE ratio | IC ratio | IC ratio, binary | validation agents' exploitability | wall-clock (min) | env-steps/s | \
load (start / end) |
|---|---|---|---|---|---|---|---|---|---|---|---|
{per_seed}

"Exploitability": what a validation agent could gain per episode by best-responding to the principal and the other
validation agent (exact DP).

## Targets (7x7: welfare >= 90% of W*, payments <= 35% of welfare)
{targets}

## Commands
```
{commands}
```
"""
    with open(os.path.join(ROOT, args.doc_path), "w") as fh:
        fh.write(page)
    print(page)


def multi_agent(args: Args) -> None:
    """PARL and selfish DQN with N agents: welfare as a fraction of W* (N = 2) or of the proven upper bound."""
    os.makedirs(os.path.join(ROOT, args.out_dir), exist_ok=True)
    common = ["--preset", args.preset, "--num-envs", str(args.num_envs), "--eval-episodes", str(args.eval_episodes)]
    common += ["--total-env-steps", str(args.env_steps), "--save-model", *args.extra]
    start, load_start = time.time(), os.getloadavg()

    def job(method: str, n: int, seed: int) -> dict:
        out = f"{args.out_dir}/{args.preset}_n{n}_{method}_{seed}.json"
        script = "parl_coin_game.py" if method == "parl" else "dqn_independent.py"
        cli = ["--seed", str(seed), "--n-agents", str(n), *common]
        return run_script(script, cli, out, f"{args.out_dir}/runs", args.resume)

    methods = [m for m in ("selfish", "parl") if m in args.methods]
    keys = [(m, n, s) for n in args.agents for m in methods for s in args.seeds]
    results = dict(zip(keys, run_grid(lambda k: job(*k), keys, args.jobs, args.address), strict=True))
    total_wall = time.time() - start
    rows, commands = [], set()
    for n in args.agents:
        runs = {m: [results[(m, n, s)] for s in args.seeds] for m in methods}
        some = runs[methods[0]][0]["final"]
        kind = "optimum" if "welfare_optimum" in some else "upper_bound"
        reference = some[f"welfare_{kind}"]
        cells = [f"{n}", f"{reference:.3f} ({'exact W*' if kind == 'optimum' else 'upper bound'})"]
        for m in methods:
            finals = [r["final"] for r in runs[m]]
            cells.append(fmt([f[f"eval_welfare_fraction_of_{kind}"] for f in finals], pct=True))
            if m == "parl":
                cells += [
                    fmt([f["eval_payment_share"] for f in finals], pct=True),
                    fmt([f["eval_follow_rate"] for f in finals], pct=True),
                    f"{np.mean([f['wall_clock_s'] for f in finals]) / 60:.1f}",
                    f"{np.mean([f['env_steps_per_s'] for f in finals]):.0f}",
                ]
            commands |= {r["command"] for r in runs[m] if "command" in r}
        rows.append("| " + " | ".join(cells) + " |")
    header = "| agents | welfare reference | "
    header += " | ".join(
        {"selfish": "selfish DQN welfare / reference", "parl": "PARL welfare / reference"}[m]
        + (
            " | PARL payments / welfare | PARL followed | PARL wall-clock (min) | PARL env-steps/s"
            if m == "parl"
            else ""
        )
        for m in methods
    )
    page = f"""# Multi-agent PARL on the Coin Game ({args.preset}): 2, 3 and 4 agents

Generated by `PYTHONPATH=. python benchmarks/reproduce_parl.py {" ".join(sys.argv[1:])}`
(reporting seeds {args.seeds}; {args.env_steps:,} env steps per run and per PARL phase, {args.num_envs} environments
per iteration). Whole comparison: {total_wall / 60:.1f} min wall-clock, {args.jobs} run(s) at a time, shared 2-core
CPU machine (load average {load_start[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end).

Welfare of {args.eval_episodes} greedy episodes per run, as a fraction of the exact optimum W*
(`solve_coin_game_welfare`) for two agents and of the proven upper bound (`coin_game_welfare_upper_bound`, which
lets the agents reposition freely between coins; for two agents it is within 0.5% of W*) for three and four.
Mean ± standard error over seeds.

{header} |
|{"---|" * (header.count("|"))}
{chr(10).join(rows)}

## Commands
```
{chr(10).join(sorted(c.replace(f"--metrics-path {args.out_dir}/", "--metrics-path <out>/") for c in commands))}
```
"""
    with open(os.path.join(ROOT, args.multi_agent_doc_path), "w") as fh:
        fh.write(page)
    print(page)


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
