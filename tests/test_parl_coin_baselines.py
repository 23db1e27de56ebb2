"""PARL Coin Game baselines: end-to-end runs on a tiny budget, and unit tests of the PARL pieces."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from baselines import dqn_independent
from baselines.parl_coin_game import (
    CoinQNetwork,
    min_pay_amounts,
    one_hot_contracts,
    others_bits,
    resample_follow_bits,
    taken_actions,
    vdn_targets,
)
from contract_envs import vector
from contract_envs.solvers.min_pay import min_pay_contract

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = [
    "--preset",
    "parl_3x3",
    "--num-envs",
    "4",
    "--learning-starts",
    "64",
    "--batch-size",
    "16",
    "--eval-episodes",
    "4",
    "--log-window",
    "4",
    "--save-model",
]


def run(script: str, args: list[str], tmp_path) -> dict:
    metrics_path = tmp_path / "metrics.json"
    cmd = [sys.executable, os.path.join(ROOT, "baselines", script), *args, "--metrics-path", str(metrics_path)]
    env = dict(os.environ, PYTHONPATH=ROOT)
    subprocess.run(cmd, check=True, cwd=tmp_path, env=env, capture_output=True, timeout=120)
    return json.loads(metrics_path.read_text())


# ------------------------------------------------------------------ end to end
@pytest.mark.parametrize("extra", [[], ["--objective", "welfare", "--tie-rule", "random"], ["--reward-sharing", "0.3"]])
def test_dqn_independent_end_to_end(tmp_path, extra):
    m = run("dqn_independent.py", [*TINY, "--total-iterations", "40", *extra], tmp_path)
    assert m["env_steps"] == 40 * 4
    assert m["train"]["episodes"] == 40 * 4 // 20  # parl_3x3 episodes last 20 steps
    assert 0.0 <= m["eval_own_coin_share"] <= 1.0
    assert m["reloaded"]["eval_welfare"] == pytest.approx(m["eval_welfare"])  # the saved model plays identically
    assert list((tmp_path / "runs").glob("*/dqn_independent.cleanrl_model"))


def test_parl_coin_game_end_to_end(tmp_path):
    budget = ["--total-iterations", "40", "--validation-iterations", "40", "--nudge", "0.05"]
    m = run("parl_coin_game.py", [*TINY, *budget], tmp_path)
    assert m["env_steps"] == 80 * 4
    assert m["training"]["episodes"] == 8 and m["validation"]["episodes"] == 8
    assert 0.0 <= m["eval_follow_rate"] <= 1.0
    assert m["eval_payments"] >= 0.0
    assert m["eval_ic_ratio_estimate"] == m["eval_ic_ratio_estimate"]  # finite, not NaN
    for key in ("eval_welfare", "eval_payments", "eval_follow_rate"):
        assert m["reloaded"][key] == pytest.approx(m[key])
    assert {h["phase"] for h in m["history"]} == {"training", "validation"}


# ------------------------------------------------------------------ contracts
@pytest.mark.parametrize("nudge", [0.0, 0.3])
def test_min_pay_closed_form_matches_lp(nudge):
    rng = np.random.default_rng(0)
    q = rng.normal(size=(50, 4)) * 3
    rec = rng.integers(0, 4, 50)
    amounts = min_pay_amounts(torch.as_tensor(q), torch.as_tensor(rec), nudge).numpy()
    identity = np.eye(4)  # observed action: the outcome is the action
    for k in range(50):
        lp = min_pay_contract(identity, q[k], int(rec[k]), margin=nudge)
        assert lp is not None
        np.testing.assert_allclose(lp, identity[rec[k]] * amounts[k], atol=1e-7)
    if nudge == 0.0:
        np.testing.assert_allclose(amounts, q.max(1) - q[np.arange(50), rec])


def test_min_pay_contract_implements_recommendation_in_env():
    """The one-hot contract leaves the agent (weakly) preferring the recommendation, and is paid iff followed."""
    q = np.array([[1.0, 3.0, 0.5, 2.0], [0.0, 0.0, 1.0, 0.0]])
    rec = np.array([0, 2])
    amounts = min_pay_amounts(torch.as_tensor(q), torch.as_tensor(rec)).numpy()
    contracts = one_hot_contracts(rec[None], amounts[None], 4)[0]
    np.testing.assert_allclose(amounts, [2.0, 0.0])
    paid_values = q + contracts
    assert all(paid_values[i, rec[i]] >= paid_values[i].max() - 1e-12 for i in range(2))
    env = vector.make("contract_envs/coin_game-v1", 1, seed=0, preset="parl_3x3", principal=True)
    env.step({"principal_0": contracts[None]})
    _, rewards, _, _, infos = env.step({"agent_0": np.array([0]), "agent_1": np.array([1])})
    assert infos["agent_0"]["payment"][0] == pytest.approx(2.0)  # followed: paid
    assert infos["agent_1"]["payment"][0] == 0.0  # deviated: not paid


# ------------------------------------------------------------------ VDN targets
def test_vdn_targets_match_explicit_sum():
    rng = np.random.default_rng(1)
    r, b = rng.normal(size=(5, 2)), rng.random((5, 2))
    next_q, dones = rng.normal(size=(5, 2, 4)), np.array([0, 1, 0, 0, 1.0])
    y = vdn_targets(*(torch.as_tensor(x) for x in (r, b, next_q, dones)), gamma=0.9, alpha=0.1).numpy()
    for k in range(5):
        expected = sum(r[k, i] - 0.1 * b[k, i] + 0.9 * (1 - dones[k]) * next_q[k, i].max() for i in range(2))
        assert y[k] == pytest.approx(expected)


def test_vdn_reward_is_env_principal_reward_over_welfare_weight():
    """With every agent following, sum_i (r_i - alpha b_i) is the env's principal reward divided by 1/alpha."""
    env = vector.make("contract_envs/coin_game-v1", 8, seed=3, preset="parl_3x3", principal=True, welfare_weight=10.0)
    rng = np.random.default_rng(0)
    for _ in range(30):
        rec, amounts = rng.integers(0, 4, (8, 2)), rng.random((8, 2))
        env.step({"principal_0": one_hot_contracts(rec, amounts, 4)})
        _, rewards, _, _, infos = env.step({"agent_0": rec[:, 0], "agent_1": rec[:, 1]})
        own = np.stack([infos[a]["own_reward"] for a in ("agent_0", "agent_1")], axis=1)
        zero = torch.zeros(8, 2, 4)
        y = vdn_targets(torch.as_tensor(own), torch.as_tensor(amounts), zero, torch.zeros(8), 0.99, 0.1).numpy()
        np.testing.assert_allclose(y, rewards["principal_0"] / 10.0, atol=1e-9)


# ------------------------------------------------------------------ follow bits
def test_follow_bits_resampled_only_at_episode_end():
    rng = np.random.default_rng(0)
    bits = resample_follow_bits(np.zeros((1000, 2), dtype=bool), np.ones(1000, dtype=bool), 0.5, rng)
    assert 0.45 < bits.mean() < 0.55
    done = np.zeros(1000, dtype=bool)
    done[:500] = True
    new = resample_follow_bits(bits, done, 0.5, rng)
    np.testing.assert_array_equal(new[500:], bits[500:])
    assert (new[:500] != bits[:500]).any()
    assert resample_follow_bits(bits, np.ones(1000, dtype=bool), 1.0, rng).all()


def test_others_bits_and_taken_actions():
    bits = np.array([[1, 0, 1], [0, 1, 1]], dtype=bool)
    np.testing.assert_array_equal(others_bits(bits), [[[0, 1], [1, 1], [1, 0]], [[1, 1], [0, 1], [0, 1]]])
    rec, selfish = np.array([[0, 1, 2], [3, 3, 3]]), np.array([[3, 3, 3], [0, 1, 2]])
    np.testing.assert_array_equal(taken_actions(bits, rec, selfish), [[0, 3, 2], [0, 3, 3]])


def test_follow_bits_constant_within_training_episodes(tmp_path):
    """Bits drawn at reset stay fixed for the whole episode: replayed f_-i is constant per env episode."""
    from baselines import parl_coin_game as parl

    args = parl.Args(
        preset="parl_3x3",
        num_envs=3,
        total_iterations=45,
        validation_iterations=1,
        learning_starts=10**9,
        eval_episodes=1,
        log_window=1,
        metrics_path=str(tmp_path / "m.json"),
        buffer_size=1000,
    )
    cwd = os.getcwd()
    os.chdir(tmp_path)
    seen = {}
    original = parl.JointReplay.add

    def spy(self, **arrays):
        if arrays["extra"].shape[-1] == 1:  # training buffer: extra = f_-i
            seen.setdefault("f", []).append(arrays["extra"][:, :, 0].copy())
        original(self, **arrays)

    parl.JointReplay.add = spy
    try:
        parl.main(args)
    finally:
        parl.JointReplay.add = original
        os.chdir(cwd)
    f = np.stack(seen["f"])  # [iterations, B, N]
    for episode in range(2):  # 20-step episodes
        chunk = f[episode * 20 : (episode + 1) * 20]
        assert (chunk == chunk[0]).all()


def test_q_network_shapes_and_shared_frames():
    net = CoinQNetwork(7, 4, extra_inputs=1)
    assert net(torch.zeros(5, 4, 7, 7), torch.zeros(5, 1)).shape == (5, 4)
    env = vector.make("contract_envs/coin_game-v1", 2, seed=0, preset="parl", principal=False)
    obs, _ = env.reset(seed=0)
    frames = dqn_independent.stack_agent_obs(obs, env.agents)
    # swapped frames: each agent's channel 0 is itself, channel 1 the other agent
    np.testing.assert_array_equal(frames[:, 0, 0], frames[:, 1, 1])
    np.testing.assert_array_equal(frames[:, 0, 1], frames[:, 1, 0])


def test_dilemma_depends_on_tie_rule():
    """Scripted policies: greedy grabbing beats own-colour-only under `all` ties, loses under `random` ties."""
    from benchmarks.coin_game_dilemma import Args, scripted_welfare

    args = Args(num_envs=64, episodes_per_env=2)
    welfare = {
        (tie, policy): scripted_welfare("parl_3x3", tie, policy, args).mean()
        for tie in ("all", "random")
        for policy in ("random", "greedy", "own_only")
    }
    assert welfare[("all", "greedy")] > welfare[("all", "own_only")] > welfare[("all", "random")]
    assert welfare[("random", "own_only")] > welfare[("random", "greedy")] > welfare[("random", "random")]
