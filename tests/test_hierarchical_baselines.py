"""End-to-end runs of baselines/ipa_bandit.py, contract_grid_ucb.py and tree_contracts_learning.py with CI-sized
budgets, scored against the exact answers of ``contract_envs.solvers``.

Each script runs many seeds as one batched environment; the assertions are on the mean over seeds.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(script: str, tmp_path: Path, *flags: str) -> dict:
    cmd = [sys.executable, str(ROOT / "baselines" / script), *flags, "--runs-dir", str(tmp_path / "runs")]
    subprocess.run(cmd, check=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "regret.png").stat().st_size > 10_000  # a real figure was written
    return json.loads((run_dir / "metrics.json").read_text())


def _regret_at(m: dict, key: str, rounds: int) -> float:
    """Cumulative regret (mean over seeds) at the last logged round <= ``rounds``."""
    return max((h for h in m["history"] if h["step"] <= rounds), key=lambda h: h["step"])[key]


def test_ipa_bandit_learns_optimal_contract(tmp_path):
    horizon, k = 2000, 5
    m = _run("ipa_bandit.py", tmp_path, *f"--horizon {horizon} --num-seeds 20 --save-model --eval-rounds 200".split())
    f = m["final"]
    assert f["optimal_arm"] == 2 and f["optimal_value"] == pytest.approx(0.62)
    assert f["ipa_fraction_final_optimal_arm"] == 1.0
    precision = 2.0 ** -np.ceil(np.log2(horizon))  # binary search over [0, 1] with ceil(log2 T) probes
    tau_star = np.array([0.35, 0.0, 0.26, 0.38, 0.40])
    found = np.array([f[f"ipa_incentive_estimate_arm_{j}"] for j in range(k)])
    assert np.all(found - tau_star >= -1e-12)  # never below tau*
    assert f["ipa_incentive_max_abs_error"] <= precision + 1e-12
    # the search phase has a cost: a probe on arm j != 2 (4 of every 5 rounds) ends on arm j or on the agent's
    # favourite arm 1, each with a principal-regret gap >= 0.37 (gaps [0.67, 0.38, 0, 0.93, 0.37])
    search_rounds = k * int(np.ceil(np.log2(horizon)))
    regret = f["ipa_cumulative_principal_regret"]
    assert regret >= 0.37 * (4 / 5) * search_rounds
    slack = 5 * np.hypot(
        f["ipa_cumulative_principal_regret_stderr"], f["ucb_oracle_cumulative_principal_regret_stderr"]
    )
    assert regret <= f["ucb_oracle_cumulative_principal_regret"] + search_rounds + slack
    # after the search IPA's UCB pays only for exploring suboptimal arms: far less than the search cost per round
    late = regret - _regret_at(m, "ipa_cumulative_principal_regret", horizon // 2)
    assert late < 0.25 * _regret_at(m, "ipa_cumulative_principal_regret", horizon // 2)
    assert f["ipa_final_value_fraction_of_optimum"] >= 0.95
    # epsilon-greedy explores a uniform arm with probability min(1, m / t) (m = 100); an exploration round that
    # targets an arm k != 2 (probability 4/5) ends on arm k or on arm 1, each with a gap >= 0.37
    explore_rounds = sum(min(1.0, 100.0 / t) for t in range(1, horizon + 1))
    assert f["epsilon_greedy_cumulative_principal_regret"] >= 0.9 * (4 / 5) * 0.37 * explore_rounds
    assert f["eval_mean_principal_utility"] == pytest.approx(0.62, abs=0.1)  # reloaded model, sigma = 1 noise


def _check_tree_run(m: dict) -> None:
    f = m["final"]
    horizon = m["args"]["horizon"]
    assert f["optimal_welfare"] == pytest.approx(2.0)
    assert f["mail_fraction_optimal_profile_last_10pct"] >= 0.9
    assert f["mail_final_welfare_fraction_of_optimum"] == pytest.approx(1.0, abs=0.01)
    n = int(f["n_nodes"])
    learned = [f[f"mail_final_transfer_node_{v}"] for v in range(1, n)]
    assert learned == pytest.approx([f[f"equilibrium_transfer_node_{v}"] for v in range(1, n)], abs=0.05)
    # MAIL pays regret while the non-root nodes learn, then only the root's UCB exploration, at a far lower rate;
    # the selfish learners lose W* - W_nt every round
    mail, selfish = f["mail_cumulative_welfare_regret"], f["no_contracts_cumulative_welfare_regret"]
    settled = int(f["learning_rounds"]) + horizon // 100
    learning = _regret_at(m, "mail_cumulative_welfare_regret", settled)
    assert 0.0 < mail < selfish
    assert (mail - learning) / (horizon - settled) < 0.1 * learning / settled
    gap = f["optimal_welfare"] - f["no_transfer_welfare"]
    assert f["no_contracts_mean_welfare_last_10pct"] == pytest.approx(f["no_transfer_welfare"], abs=0.02)
    assert selfish == pytest.approx(gap * horizon, rel=0.15)


def test_tree_learners_reach_the_equilibrium_t2(tmp_path):
    flags = "--instance T2 --horizon 2000 --num-seeds 10 --save-model --eval-rounds 100"
    m = _run("tree_contracts_learning.py", tmp_path, *flags.split())
    _check_tree_run(m)
    assert m["final"]["eval_mean_welfare"] == pytest.approx(2.0, abs=0.05)  # reloaded settled learners


def test_tree_learners_on_t1_with_sublinear_regret_across_horizons(tmp_path):
    """The exploration length scales with T, so compare separate runs: R_{2T}(2T) / R_T(T) clearly below 2."""
    regret = {}
    for horizon in (1000, 2000):
        out = tmp_path / str(horizon)
        out.mkdir()
        m = _run("tree_contracts_learning.py", out, "--instance", "T1", "--horizon", str(horizon), "--num-seeds", "10")
        _check_tree_run(m)
        regret[horizon] = m["final"]["mail_cumulative_welfare_regret"]
    assert 1.0 < regret[2000] / regret[1000] < 1.7


def test_grid_ucb_learns_the_hidden_action_contract(tmp_path):
    flags = "--horizon 3000 --num-seeds 20 --grid-step 0.05 --save-model --eval-rounds 200"
    m = _run("contract_grid_ucb.py", tmp_path, *flags.split())
    f = m["final"]
    assert f["optimal_contract"] == pytest.approx(0.5) and f["optimal_value"] == pytest.approx(0.45)
    assert f["grid_ucb_fraction_final_contract_optimal"] >= 0.9
    # a random grid contract's expected regret per round is the mean gap over the 21 contracts: linear regret
    assert f["random_contract_cumulative_principal_regret"] == pytest.approx(
        3000 * (0.45 - f["random_contract_value_fraction_of_optimum"] * 0.45), rel=1e-9
    )
    assert f["random_contract_regret_ratio_T_over_half_T"] == pytest.approx(2.0, abs=0.1)
    assert f["grid_ucb_cumulative_principal_regret"] < 0.5 * f["random_contract_cumulative_principal_regret"]
    late = f["grid_ucb_cumulative_principal_regret"] - _regret_at(m, "grid_ucb_cumulative_principal_regret", 1500)
    assert late < _regret_at(m, "grid_ucb_cumulative_principal_regret", 1500)  # the second half costs less
    assert f["eval_mean_principal_utility"] == pytest.approx(0.45, abs=0.05)
