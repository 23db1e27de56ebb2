"""Behaviour of the incentive reproductions: declared seeds, and the page's numbers against real runs and the
exact best responses recomputed from the saved models (tiny budgets: the pipeline, not the results)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from contract_envs import solvers

ROOT = Path(__file__).resolve().parents[1]


def _load(relative: str, name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / relative)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ri = _load("benchmarks/reproduce_incentives.py", "reproduce_incentives")
rb = _load("benchmarks/reproduce_incentive_baselines.py", "reproduce_incentive_baselines")
mg = _load("baselines/metagrad_incentives.py", "metagrad_incentives")


@pytest.mark.parametrize("module", [ri, rb], ids=["metagrad", "baselines"])
def test_reporting_seeds_are_held_out(module):
    """Hyperparameters were chosen on the tuning seeds; every experiment reports >= 5 seeds disjoint from them."""
    assert len(module.REPORTING_SEEDS) >= 5 and not set(module.REPORTING_SEEDS) & set(module.TUNING_SEEDS)
    if module is ri:
        for exp in ri.EXPERIMENTS:
            reporting = ri.seeds_for(exp, "reporting")
            assert len(reporting) >= 5 and not set(reporting) & set(ri.TUNING_SEEDS), exp
            assert ri.seeds_for(exp, "tuning") == ri.TUNING_SEEDS


def test_page_reports_the_runs_and_their_exact_equilibrium_check(tmp_path):
    """The whole pipeline on ER(3,2) with tiny budgets: the page's per-seed row is the run's metrics.json, and its
    equilibrium verdict is what the exact best responses give for the saved model (recomputed here)."""
    out = tmp_path / "page.md"
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "reproduce_incentives.py"),
        *("--smoke", "--max-seeds", "1", "--only", "er_3_2", "--jobs", "1"),
        *("--output", str(out), "--runs-dir", str(tmp_path / "runs")),
    ]
    result = subprocess.run(
        cmd, cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = out.read_text()
    (metrics_path,) = (tmp_path / "runs" / "smoke" / "er_3_2__metagrad__101").glob("*/metrics.json")
    final = json.loads(metrics_path.read_text())["final"]
    assert "*reporting seeds* 101" in page
    row = next(line for line in page.splitlines() if line.startswith("| 101 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1] == f"{100 * final['welfare_fraction_of_optimum']:.1f}%"
    assert cells[3] == f"{final['schedule_at_start_lever']:.3f}"
    # the verdict, recomputed from the saved model with the exact solver
    args, params, designer = mg.load_checkpoint(str(metrics_path.parent / "model.pt"))
    problem = mg.Problem(args.env_id, 1, args.seed, json.loads(args.env_kwargs))
    probs, schedule = mg.decision_state_tables(problem, params, designer)
    greedy = np.eye(3)[probs.argmax(-1)]
    check = solvers.escape_room_best_responses(3, 2, greedy, schedule, discount=args.gamma)
    assert cells[6] == ("yes" if check.is_equilibrium(1e-6) else "no")
    assert cells[7].startswith(f"{check.gains.max():.2f} /")
    assert cells[4] == ("yes" if solvers.escape_room_sustains_optimum(3, 2, schedule[-1]) else "no")
    # the headline counts the same verdicts over the seeds
    assert re.search(r"greedy profile optimal and a Nash equilibrium of the episode: [01]/1", page)


def _er_run(seed, welfare, net, lever, greedy_ne, optimal):
    return {
        "seed": seed,
        "final": {
            "welfare_fraction_of_optimum": welfare / 8,
            "designer_return_fraction_of_limit": net / 6,
            "schedule_at_start_lever": lever,
            "greedy_br_is_equilibrium": float(greedy_ne),
            "greedy_start_profile_optimal": float(optimal),
            "designer_return": net,
        },
    }


def test_claims_count_the_issue_cases_net_above_the_limit_without_equilibrium():
    """A run that beats the equilibrium limit with a lever incentive below 1 (the issue's ER(3,2) case) counts as
    'net above the limit' and not as an exact equilibrium."""
    runs = [_er_run(101, 8.0, 6.7, 0.63, False, True), _er_run(102, 7.9, 5.5, 1.2, True, True)]
    text = ri.claims("er_3_2", runs)
    assert "final lever incentive > 1 in 1/2" in text
    assert "greedy profile an exact equilibrium in 1/2" in text
    assert "net above the equilibrium limit in 1/2" in text
    assert "welfare >= 90% in 2/2" in text


def test_prisoners_dilemma_learner_specific_threshold():
    # sigmoid((g - 1) / beta): the dominance threshold g = 1 gives 1/2; g = 1 + beta ln 9 gives 0.9
    assert ri.regularised_cooperation(1.0, 0.4) == 0.5
    assert abs(ri.regularised_cooperation(1.0 + 0.4 * np.log(9.0), 0.4) - 0.9) < 1e-12
    assert abs(ri.regularised_gap(0.99, 0.4) - (1.0 + 0.4 * np.log(99.0))) < 1e-12
    assert abs(ri.regularised_gap(ri.regularised_cooperation(1.7, 0.05), 0.05) - 1.7) < 1e-9
