"""Productivity x equality of tax planners on Gather-Trade-Build: the meta-gradient paper's experiment, small budget.

Per seed, as in Yang et al. (AAMAS 2022): phase 1 trains the agents (shared-parameter PPO, `ppo_shared.py`) in
a free market; phase 2 starts from those agents and trains them further under each planner: free market, US
federal 2018 (scaled), the Saez formula, a dual-RL planner (PPO on the rates, `ppo_shared.py --planner dual_rl`)
and the meta-gradient designer (`metagrad_gtb.py`). Each phase-2 run ends with an evaluation on held-out
environment seeds (`eval_seed`); the page reports productivity x equality there, mean and spread over seeds.

Usage (the results page's command)::

    PYTHONPATH=. python benchmarks/reproduce_gtb.py --seeds 2 3 4 5 6 --out docs/results/gather_trade_build.json

Every run is a subprocess under ``nice -n 10`` with its wall-clock and the machine's load (``/proc/loadavg``)
recorded; ``--plot`` draws the curves and the bar chart from the JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PLANNERS = ("free_market", "us_federal", "saez", "dual_rl", "metagrad")


def load() -> float:
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(script: str, flags: dict, runs_dir: str) -> dict:
    """Run a baseline with ``flags``; return its metrics.json with the wall-clock and the load around it."""
    cmd = ["nice", "-n", "10", sys.executable, os.path.join(ROOT, "baselines", script), "--runs-dir", runs_dir]
    for k, v in flags.items():
        key = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            cmd.append(key if v else "--no-" + k.replace("_", "-"))
        else:
            cmd += [key, str(v)]
    before, start = load(), time.time()
    existing = set(os.listdir(runs_dir)) if os.path.isdir(runs_dir) else set()
    subprocess.run(cmd, check=True, env={**os.environ, "PYTHONPATH": ROOT}, stdout=subprocess.DEVNULL)
    mine = f"{script[: -len('.py')]}__gather_trade_build__{flags['seed']}__"  # other drivers may share runs_dir
    folder = sorted(f for f in set(os.listdir(runs_dir)) - existing if f.startswith(mine))[-1]
    with open(os.path.join(runs_dir, folder, "metrics.json")) as f:
        metrics = json.load(f)
    metrics["run_folder"] = os.path.join(runs_dir, folder)
    metrics["command"] = " ".join(cmd[3:])
    metrics["measured"] = {"wall_clock_s": time.time() - start, "load_before": before, "load_after": load()}
    return metrics


def summary(metrics: dict) -> dict:
    """What the page needs from a run: evaluation, wall-clock, load and the training curve."""
    keep = ("step", "equality_times_productivity", "productivity", "equality", "agent_return", "build_income")
    curve = [{k: row[k] for k in keep if k in row} for row in metrics["history"]]
    return {
        "eval": {k[len("eval_") :]: v for k, v in metrics["final"].items() if k.startswith("eval_")},
        "wall_clock_s": metrics["measured"]["wall_clock_s"],
        "load_before": metrics["measured"]["load_before"],
        "load_after": metrics["measured"]["load_after"],
        "command": metrics["command"],
        "curve": curve,
        "run_folder": metrics["run_folder"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[2, 3, 4, 5, 6], help="held-out seeds (1: tuning)")
    parser.add_argument("--planners", nargs="+", default=list(PLANNERS), help=f"subset of {PLANNERS}")
    parser.add_argument("--env-kwargs", default='{"preset": "small"}', help="the game's arguments (JSON)")
    parser.add_argument("--num-envs", type=int, default=32, help="environments per batch")
    parser.add_argument("--phase1-steps", type=int, default=200_000, help="free-market pre-training (env steps)")
    parser.add_argument("--phase2-steps", type=int, default=100_000, help="training under each planner (env steps)")
    parser.add_argument("--energy-warmup-episodes", type=float, default=2000.0, help="phase 1's labour-cost warm-up")
    parser.add_argument("--ent-coef", type=float, default=0.05, help="the agents' entropy bonus")
    parser.add_argument("--designer-lr", type=float, default=1e-3, help="the meta-gradient designer's step size")
    parser.add_argument("--num-eval-episodes", type=int, default=64, help="evaluation episodes per run")
    parser.add_argument("--runs-dir", default="runs/reproduce_gtb", help="run folders")
    parser.add_argument("--out", default="docs/results/gather_trade_build.json", help="results JSON (updated per run)")
    parser.add_argument("--plot", action="store_true", help="only draw the figure from --out")
    parser.add_argument("--table", action="store_true", help="only print the results table (markdown) from --out")
    parser.add_argument("--merge", nargs="*", default=[], help="with --plot/--table: more result files to merge")
    args = parser.parse_args()
    if args.plot or args.table:
        merged = merge([args.out, *args.merge])
        if args.plot:
            plot(merged, os.path.splitext(args.out)[0] + ".png")
        if args.table:
            table(merged)
        return
    os.makedirs(args.runs_dir, exist_ok=True)
    results = json.load(open(args.out)) if os.path.exists(args.out) else {}
    results.setdefault("setup", {}).update(vars(args))
    common = {
        "env_kwargs": args.env_kwargs,
        "num_envs": args.num_envs,
        "ent_coef": args.ent_coef,
        "num_eval_episodes": args.num_eval_episodes,
    }
    for seed in args.seeds:
        entry = results.setdefault("seeds", {}).setdefault(str(seed), {})
        if "phase1" not in entry:
            m = run(
                "ppo_shared.py",
                {
                    **common,
                    "seed": seed,
                    "planner": "free_market",
                    "total_timesteps": args.phase1_steps,
                    "energy_warmup_episodes": args.energy_warmup_episodes,
                    "save_model": True,
                },
                args.runs_dir,
            )
            entry["phase1"] = {**summary(m), "checkpoint": os.path.join(m["run_folder"], "model.pt")}
            save(results, args.out)
        checkpoint = entry["phase1"]["checkpoint"]
        for planner in args.planners:
            if planner in entry:
                continue
            flags = {**common, "seed": seed, "total_timesteps": args.phase2_steps, "init_checkpoint": checkpoint}
            if planner == "metagrad":
                m = run("metagrad_gtb.py", {**flags, "designer_lr": args.designer_lr}, args.runs_dir)
            else:
                flags["planner"] = planner
                if planner in ("us_federal", "dual_rl"):  # the paper's rate cap: 0.1 -> 1 over 4% of phase 2
                    episodes = args.phase2_steps // json.loads(args.env_kwargs).get("horizon", 30)
                    flags.update(rate_cap_start=0.1, rate_cap_episodes=max(1, int(0.04 * episodes)))
                m = run("ppo_shared.py", flags, args.runs_dir)
            entry[planner] = summary(m)
            save(results, args.out)
            print(f"seed {seed} {planner}: eq x prod {entry[planner]['eval']['equality_times_productivity']:.2f}")


def save(results: dict, path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)


def merge(paths: list[str]) -> dict:
    """One results dict from several drivers' files (seeds are disjoint)."""
    out: dict = {"seeds": {}}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        out.setdefault("setup", data.get("setup"))
        for seed, entry in data["seeds"].items():
            out["seeds"].setdefault(seed, {}).update(entry)
    return out


def table(results: dict) -> None:
    """Markdown: per planner, the evaluation's mean and spread over seeds, each seed's value, wall-clock and load."""
    import numpy as np

    seeds = sorted(results["seeds"], key=int)
    print(f"| planner | productivity x equality ({len(seeds)} seeds) | productivity | equality | per seed "
          f"({', '.join(seeds)}) | wall-clock per run (s) | load |")  # fmt: skip
    print("|---|---:|---:|---:|---|---:|---:|")
    for planner in ("phase1", *PLANNERS):
        runs = [results["seeds"][s][planner] for s in seeds if planner in results["seeds"][s]]
        if len(runs) < len(seeds):
            continue
        ev = lambda key, runs=runs: np.array([r["eval"][key] for r in runs])  # noqa: E731
        eqp = ev("equality_times_productivity")
        print(
            f"| {planner} | {eqp.mean():.1f} ± {eqp.std():.1f} | {ev('productivity').mean():.1f} | "
            f"{ev('equality').mean():.3f} | {', '.join(f'{x:.1f}' for x in eqp)} | "
            f"{np.mean([r['wall_clock_s'] for r in runs]):.0f} | "
            f"{np.mean([(r['load_before'] + r['load_after']) / 2 for r in runs]):.1f} |"
        )


def plot(results: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    seeds = sorted(results["seeds"], key=int)
    planners = [p for p in PLANNERS if all(p in results["seeds"][s] for s in seeds)]
    fig, (ax_curve, ax_bar) = plt.subplots(1, 2, figsize=(12, 4.2))
    for planner in planners:
        curves = [results["seeds"][s][planner]["curve"] for s in seeds]
        length = min(len(c) for c in curves)
        steps = np.array([row["step"] for row in curves[0][:length]])
        values = np.array([[row["equality_times_productivity"] for row in c[:length]] for c in curves])
        mean, std = values.mean(0), values.std(0)
        ax_curve.plot(steps, mean, label=planner)
        ax_curve.fill_between(steps, mean - std, mean + std, alpha=0.2)
    ax_curve.set_xlabel("phase-2 environment steps")
    ax_curve.set_ylabel("productivity x equality (training batches)")
    ax_curve.legend()
    evals = [[results["seeds"][s][p]["eval"]["equality_times_productivity"] for s in seeds] for p in planners]
    ax_bar.bar(planners, [np.mean(e) for e in evals], yerr=[np.std(e) for e in evals], capsize=4)
    for i, e in enumerate(evals):
        ax_bar.scatter([i] * len(e), e, color="k", s=10, zorder=3)
    ax_bar.set_ylabel(f"productivity x equality, evaluation ({len(seeds)} seeds)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
