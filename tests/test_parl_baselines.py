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


def table_network(table: np.ndarray) -> torch.nn.Module:
    """A float64 QNetwork whose output at state s is ``table[s]`` exactly (identity embedding and hidden layer)."""
    n_s, n_a = table.shape
    net = deep.QNetwork(n_s, n_a, n_s).double()
    with torch.no_grad():
        net.embed.weight.copy_(torch.eye(n_s, dtype=torch.float64))
        net.body[1].weight.copy_(torch.eye(n_s, dtype=torch.float64))
        net.body[1].bias.zero_()
        net.body[3].weight.copy_(torch.as_tensor(table.T))
        net.body[3].bias.zero_()
    return net


def test_validation_scores_exact_networks_one_and_sees_an_underpriced_root():
    """Networks that output the SPE's Q-tables validate at 1; under-estimating the agent's effort gap at the root by
    0.01 makes the oracle deviate there (the learned contract underpays), which a validation nudge of 0.02 repairs."""
    spec = random_binary_tree(4, seed=1)
    sol = solve_spe(spec)
    principal_q = np.where(np.isfinite(sol.principal_q), sol.principal_q, -1e6)
    root = spec.initial_state
    assert sol.recommended_action[root] == 1 and sol.contract[root].sum() > 0  # the SPE pays for effort at the root
    exact = deep.validate(spec, sol, table_network(principal_q), table_network(sol.agent_truncated_q), 0.0, (0.02,))
    assert exact["ratio_oracle"] == pytest.approx(1.0) and exact["ratio_oracle_no_nudge"] == pytest.approx(1.0)
    assert exact["accuracy"] == 1.0 and exact["oracle_follow_rate"] == 1.0 and exact["oracle_follow_rate_paid"] == 1.0
    assert exact["oracle_path_deviation_prob"] == 0.0 and exact["agent_qbar_max_error"] < 1e-12
    assert exact["ratio_oracle_nudge_0.02"] < 1.0  # a nudge costs money when the agent is known exactly
    qbar = sol.agent_truncated_q.copy()
    qbar[root, 0] -= 0.01  # the agent's value of shirking at the root, under-estimated
    off = deep.validate(spec, sol, table_network(principal_q), table_network(qbar), 0.0, (0.02,))
    assert off["oracle_path_deviation_prob"] == 1.0  # the oracle shirks at the root
    assert off["ratio_oracle_no_nudge"] < 0.9 and off["ratio_implemented"] == pytest.approx(1.0)
    assert off["accuracy"] == 1.0  # the recommendations are still the SPE's
    # a nudge above the error restores the root (and pays a little less there than with the exact agent model)
    assert off["ratio_oracle_nudge_0.02"] > 0.95
    assert off["ratio_oracle_nudge_0.02"] >= exact["ratio_oracle_nudge_0.02"] - 1e-9


def test_validation_as_offered_uses_the_training_nudge_and_no_nudge_row_does_not():
    spec = random_binary_tree(4, seed=1)
    sol = solve_spe(spec)
    principal_q = np.where(np.isfinite(sol.principal_q), sol.principal_q, -1e6)
    nets = table_network(principal_q), table_network(sol.agent_truncated_q)
    nudged = deep.validate(spec, sol, *nets, 0.02, (0.02,))
    assert nudged["ratio_oracle"] == pytest.approx(nudged["ratio_oracle_nudge_0.02"])  # as offered: the training xi
    assert nudged["ratio_oracle_no_nudge"] == pytest.approx(1.0)
    assert nudged["ratio_oracle"] < 0.99


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


SCHEMA_KEYS = {"schema", "algorithm", "env_id", "env_kwargs", "seed", "args", "final", "history", "wall_clock_s"}
SCHEMA_KEYS |= {"versions", "eval"}


def only_run_folder(tmp_path, exclude=()):
    (folder,) = [f for f in (tmp_path / "runs").iterdir() if f not in exclude]
    return folder


def test_parl_tabular_script_end_to_end(tmp_path):
    script = os.path.join(REPO, "baselines/parl_tabular.py")
    args = ["--depth", "3", "--meta-iterations", "2", "--rounds-per-phase", "3000", "--save-model"]
    out = run_script([script, *args, "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert "model saved" in out.stdout
    folder = only_run_folder(tmp_path)
    assert folder.name.startswith("parl_tabular__principal_agent_mdp__1__")
    data = json.loads((folder / "metrics.json").read_text())
    assert set(data) == SCHEMA_KEYS and data["schema"] == "contract-envs/metrics/v1" and data["eval"] is None
    assert [h["meta_iteration"] for h in data["history"]] == [1, 2]
    assert list(folder.glob("events.out.tfevents.*"))
    run_script([script, "--eval-checkpoint", str(folder / "model.pt"), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    evaluated = json.loads((only_run_folder(tmp_path, {folder}) / "metrics.json").read_text())
    assert evaluated["eval"]["final"]["ratio_oracle"] == pytest.approx(data["final"]["ratio_oracle"])
    assert evaluated["eval"]["final"]["accuracy"] == pytest.approx(data["final"]["accuracy"])


def test_parl_dqn_tree_script_end_to_end(tmp_path):
    script = os.path.join(REPO, "baselines/parl_dqn_tree.py")
    args = ["--depth", "3", "--iterations", "60", "--eval-frequency", "30", "--hidden-size", "32", "--save-model"]
    out = run_script([script, *args, "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert "model saved" in out.stdout
    folder = only_run_folder(tmp_path)
    data = json.loads((folder / "metrics.json").read_text())
    assert set(data) == SCHEMA_KEYS and data["algorithm"] == "parl_dqn_tree"
    assert [m["iteration"] for m in data["history"]] == [30, 60]
    assert [m["step"] for m in data["history"]] == [240, 480]
    run_script([script, "--eval-checkpoint", str(folder / "model.pt"), "--runs-dir", str(tmp_path / "runs")], tmp_path)
    evaluated = json.loads((only_run_folder(tmp_path, {folder}) / "metrics.json").read_text())
    assert evaluated["eval"]["checkpoint"] == str(folder / "model.pt")
    for key in ("accuracy", "ratio_oracle", "ratio_oracle_no_nudge", "ema_ratio_oracle"):
        assert evaluated["final"][key] == pytest.approx(data["final"][key])


@pytest.mark.parametrize("decay", [1.0, -0.1, float("nan")])
def test_parl_dqn_tree_rejects_an_ema_decay_outside_zero_one(decay):
    with pytest.raises(ValueError, match="--ema-decay.*range"):
        deep.main(deep.Args(depth=2, iterations=1, ema_decay=decay))


def test_reproduce_parl_tree_benchmark_end_to_end(tmp_path):
    run_script(
        [
            os.path.join(REPO, "benchmarks/reproduce_parl_tree.py"),
            "--trees",
            "0",
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
    assert "learned contracts priced with no nudge" in table and "held-out" in table.lower()
    assert (tmp_path / "out" / "tiny.png").stat().st_size > 1000
