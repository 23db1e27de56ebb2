"""End-to-end runs of baselines/ipa_bandit.py and baselines/tree_contracts_learning.py with CI-sized budgets.

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
    metrics, plot = tmp_path / "metrics.json", tmp_path / "regret.png"
    cmd = [
        sys.executable,
        str(ROOT / "baselines" / script),
        *flags,
        "--metrics-path",
        str(metrics),
        "--plot-path",
        str(plot),
    ]
    subprocess.run(cmd, check=True, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True)
    assert plot.stat().st_size > 10_000  # a real figure was written
    return json.loads(metrics.read_text())


def test_ipa_bandit_learns_optimal_contract(tmp_path):
    horizon = 2000
    m = _run("ipa_bandit.py", tmp_path, *f"--horizon {horizon} --num-seeds 20 --save-model --eval-rounds 200".split())
    ipa, oracle, eps = (m["algorithms"][a] for a in ("ipa", "ucb_oracle", "epsilon_greedy"))
    assert m["optimal_arm"] == 2 and m["optimal_value"] == pytest.approx(0.62)
    assert ipa["fraction_final_optimal_arm"] >= 0.9
    assert ipa["regret_ratio_T_over_half_T"] < 1.5  # R(2T)/R(T) clearly below 2: sublinear
    precision = 2.0 ** -np.ceil(np.log2(horizon))  # binary search over [0, 1] with ceil(log2 T) probes
    tau_star = np.array([0.35, 0.0, 0.26, 0.38, 0.40])
    assert np.all(np.array(ipa["incentive_estimates_mean"]) - tau_star >= -1e-12)  # never below tau*
    assert ipa["incentive_max_abs_error"] <= precision + 1e-12
    slack = 5 * np.hypot(ipa["cumulative_principal_regret"]["stderr"], oracle["cumulative_principal_regret"]["stderr"])
    assert ipa["cumulative_principal_regret"]["mean"] <= (
        oracle["cumulative_principal_regret"]["mean"] + 5 * np.ceil(np.log2(horizon)) + slack
    )
    # epsilon-greedy explores a uniform arm with probability min(1, m / t) (m = 100); an exploration round that
    # targets an arm k != 2 (probability 4/5) ends on arm k or on arm 1 (the agent's favourite without incentive),
    # each with a principal-regret gap >= 0.37 (gaps [0.67, 0.38, 0, 0.93, 0.37]): a lower bound on its regret
    explore_rounds = sum(min(1.0, 100.0 / t) for t in range(1, horizon + 1))
    assert eps["cumulative_principal_regret"]["mean"] >= 0.9 * (4 / 5) * 0.37 * explore_rounds
    assert m["eval_mean_principal_utility"] == pytest.approx(0.62, abs=0.1)  # reloaded model, sigma = 1 noise


def _check_tree_run(m: dict) -> None:
    mail, selfish = m["algorithms"]["mail"], m["algorithms"]["no_contracts"]
    assert m["optimal_welfare"] == pytest.approx(2.0)
    assert mail["fraction_optimal_profile_last_10pct"] >= 0.9
    assert mail["welfare_regret_ratio_T_over_half_T"] < 1.5  # sublinear within the run
    assert mail["mean_welfare_last_10pct"] == pytest.approx(2.0, abs=0.02)
    assert mail["final_transfers_mean"] == pytest.approx(m["equilibrium_transfers"], abs=0.05)
    # without contracts the selfish outcome costs W* - W_nt every round: linear regret
    assert selfish["welfare_regret_ratio_T_over_half_T"] > 1.9
    assert selfish["mean_welfare_last_10pct"] == pytest.approx(m["no_transfer_welfare"], abs=0.02)


def test_tree_learners_reach_the_equilibrium_t2(tmp_path):
    flags = "--instance T2 --horizon 2000 --num-seeds 10 --save-model --eval-rounds 100"
    m = _run("tree_contracts_learning.py", tmp_path, *flags.split())
    _check_tree_run(m)
    assert m["eval"]["mean_welfare"] == pytest.approx(2.0, abs=0.05)  # reloaded settled learners


def test_tree_learners_on_t1_with_sublinear_regret_across_horizons(tmp_path):
    """The exploration length scales with T, so also compare separate runs: R_{2T}(2T) / R_T(T) clearly below 2."""
    regret = {}
    for horizon in (1000, 2000):
        out = tmp_path / str(horizon)
        out.mkdir()
        m = _run("tree_contracts_learning.py", out, "--instance", "T1", "--horizon", str(horizon), "--num-seeds", "10")
        _check_tree_run(m)
        regret[horizon] = m["algorithms"]["mail"]["cumulative_welfare_regret"]["mean"]
    assert 1.0 < regret[2000] / regret[1000] < 1.7


def test_grid_ucb_learns_the_hidden_action_contract(tmp_path):
    flags = "--horizon 3000 --num-seeds 20 --grid-step 0.05 --save-model --eval-rounds 200"
    m = _run("contract_grid_ucb.py", tmp_path, *flags.split())
    ucb, rand = m["algorithms"]["grid_ucb"], m["algorithms"]["random_contract"]
    assert m["optimal_contract"] == pytest.approx(0.5) and m["optimal_value"] == pytest.approx(0.45)
    assert ucb["fraction_final_contract_optimal"] >= 0.9
    assert ucb["regret_ratio_T_over_half_T"] < 1.6  # sublinear
    assert rand["regret_ratio_T_over_half_T"] > 1.9  # a random contract has linear regret
    assert m["eval_mean_principal_utility"] == pytest.approx(0.45, abs=0.05)
