"""PARL's single-agent baselines: tabular convergence to the SPE, deep-baseline helpers, scripts end to end."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from contract_envs.games.principal_agent_mdp import random_binary_tree
from contract_envs.solvers import agent_best_response, solve_spe

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load(relative: str):
    name = os.path.splitext(os.path.basename(relative))[0]
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, relative))
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


tabular = load("baselines/parl_tabular.py")
deep = load("baselines/parl_dqn_tree.py")


def train_tabular(**kwargs):
    args = tabular.Args(**kwargs)
    spec = tabular.make_spec(args)
    return tabular.train(args, spec, None)[2]


def test_tabular_meta_algorithm_reaches_the_spe_on_a_tree():
    final = train_tabular(instance="tree", depth=5, instance_seed=3, meta_iterations=6, rounds_per_phase=40_000)
    # validated against the exact oracle agent, without any nudge
    assert final["ratio_oracle"] == pytest.approx(1.0, abs=0.01)
    assert final["accuracy"] == 1.0
    assert final["oracle_follow_rate"] == 1.0


def test_tabular_meta_algorithm_reaches_the_spe_on_a_discounted_mdp():
    # an instance where the SPE pays for effort (random_mdp(5, seed=1) recommends a costly action)
    assert solve_spe(tabular.random_mdp(5, seed=1)).contract.sum() > 0
    final = train_tabular(
        instance="mdp", mdp_states=5, instance_seed=1, meta_iterations=3, rounds_per_phase=30_000, margin=0.01
    )
    assert final["ratio_oracle"] == pytest.approx(1.0, abs=0.01)
    assert final["ratio_learned"] == pytest.approx(1.0, abs=0.01)
    assert final["accuracy"] == 1.0


def test_tabular_q_update_uses_jin_step_sizes():
    table, counts = np.zeros(3), np.zeros(3)
    tabular.q_update(table, counts, np.array([0, 0, 2]), np.array([1.0, 3.0, 5.0]), horizon=2.0)
    # index 0: two samples, alpha = min(1, 3 * 2 / (2 + 2)) = 1 -> mean target; index 2: alpha = 1
    np.testing.assert_allclose(table, [2.0, 0.0, 5.0])
    tabular.q_update(table, counts, np.array([0]), np.array([6.0]), horizon=2.0)
    assert table[0] == pytest.approx(2.0 + 3 / 5 * 4.0)


def test_learned_agent_follows_a_min_pay_recommendation():
    probs = np.array([[[0.9, 0.1], [0.1, 0.9]]] * 2)
    qbar = np.array([[0.0, -0.4], [0.3, 0.0]])
    contracts, feasible = deep.contracts_for_all(probs, qbar, 0.0)
    assert feasible.all()
    # implement a1 in both states: the agent is exactly indifferent and takes the recommendation
    offered = contracts[:, 1]
    np.testing.assert_array_equal(deep.agent_choice(qbar, offered, probs), [1, 1])
    np.testing.assert_array_equal(tabular.agent_choice(qbar, offered, probs)[0], [1, 1])
    # a zero contract leaves it on its own preferred action
    np.testing.assert_array_equal(deep.agent_choice(qbar, np.zeros((2, 2)), probs), [0, 0])


def test_oracle_validation_of_the_exact_policy_scores_one():
    spec = random_binary_tree(5, seed=2)
    sol = solve_spe(spec)
    q = np.where(np.isfinite(sol.principal_q), sol.principal_q, -1e9)
    rec, contract = deep.learned_policy(spec, q, sol.agent_truncated_q, 0.0)
    live = ~spec.terminal
    np.testing.assert_array_equal(rec[live], sol.recommended_action[live])
    np.testing.assert_allclose(contract, sol.contract, atol=1e-12)
    assert agent_best_response(spec, contract, rec).principal_value == pytest.approx(sol.principal_value)


def test_oracle_validation_of_networks_reports_ratios_and_accuracy():
    spec = random_binary_tree(3, seed=0)
    sol = solve_spe(spec)
    torch.manual_seed(0)
    principal = deep.QNetwork(spec.n_states, 2, 16)
    agent = deep.QNetwork(spec.n_states, 2, 16)
    metrics = deep.validate(spec, sol, principal, agent, 0.0, (0.01,))
    assert metrics["spe_principal_value"] == pytest.approx(sol.principal_value)
    assert metrics["ratio_oracle"] == pytest.approx(metrics["principal_value_oracle"] / sol.principal_value)
    assert 0.0 <= metrics["accuracy"] <= 1.0 and "ratio_oracle_nudge_0.01" in metrics
    assert metrics["ratio_implemented"] <= 1.0 + 1e-9
    # an untrained principal is far from the SPE
    assert metrics["ratio_oracle"] < 0.99


def test_replay_wraps_around():
    replay = deep.Replay(5)
    for start in (0, 3, 6):
        idx = np.arange(start, start + 3)
        replay.add(s=idx, rec=idx % 2, a=idx % 2, o=idx % 2, r=idx * 1.0, rp=idx * 1.0, s2=idx + 1, term=idx > 7)
    assert len(replay) == 5
    assert sorted(replay.s.tolist()) == [4, 5, 6, 7, 8]


def run_script(args, cwd):
    out = subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        env=dict(os.environ, PYTHONPATH=REPO),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    return out


def test_parl_tabular_script_end_to_end(tmp_path):
    metrics = tmp_path / "m.json"
    out = run_script(
        [
            os.path.join(REPO, "baselines/parl_tabular.py"),
            "--depth",
            "3",
            "--meta-iterations",
            "2",
            "--rounds-per-phase",
            "3000",
            "--save-model",
            "--metrics-path",
            str(metrics),
        ],
        tmp_path,
    )
    assert "model saved" in out.stdout
    data = json.loads(metrics.read_text())
    assert len(data["history"]) == 2
    assert data["final"]["reloaded_ratio_oracle"] == pytest.approx(data["final"]["ratio_oracle"])
    assert list((tmp_path / "runs").glob("*/events.out.tfevents.*"))


def test_parl_dqn_tree_script_end_to_end(tmp_path):
    metrics = tmp_path / "m.json"
    out = run_script(
        [
            os.path.join(REPO, "baselines/parl_dqn_tree.py"),
            "--depth",
            "3",
            "--iterations",
            "60",
            "--eval-frequency",
            "30",
            "--hidden-size",
            "32",
            "--save-model",
            "--metrics-path",
            str(metrics),
        ],
        tmp_path,
    )
    assert "model saved" in out.stdout
    data = json.loads(metrics.read_text())
    assert [m["iteration"] for m in data["history"]] == [30, 60]
    assert data["final"]["env_steps"] == 480
    assert data["final"]["reloaded_accuracy"] == pytest.approx(data["final"]["accuracy"])
    assert data["final"]["reloaded_ratio_oracle"] == pytest.approx(data["final"]["ratio_oracle"])
    assert data["final"]["reloaded_ema_ratio_oracle"] == pytest.approx(data["final"]["ema_ratio_oracle"])


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan")])
def test_parl_dqn_tree_rejects_an_ema_decay_outside_zero_one(decay):
    with pytest.raises(ValueError, match="--ema-decay.*range"):
        deep.main(deep.Args(depth=2, iterations=1, ema_decay=decay))


def test_reproduce_parl_tree_benchmark_end_to_end(tmp_path):
    run_script(
        [
            os.path.join(REPO, "benchmarks/reproduce_parl_tree.py"),
            "--trees",
            "1",
            "--seeds",
            "1",
            "--depth",
            "3",
            "--iterations",
            "40",
            "--eval-frequency",
            "20",
            "--runs-dir",
            str(tmp_path / "runs"),
            "--out-dir",
            str(tmp_path / "out"),
            "--name",
            "tiny",
        ],
        tmp_path,
    )
    table = (tmp_path / "out" / "tiny.md").read_text()
    assert "| recommendations equal to the SPE action |" in table and "+-" in table
    assert (tmp_path / "out" / "tiny.png").stat().st_size > 1000
