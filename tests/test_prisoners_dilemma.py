"""Prisoner's Dilemma: payoffs, observations, designer incentives and reward transfer, through the env."""

from __future__ import annotations

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs import solvers
from tests.battery import run_battery

PD = "contract_envs/prisoners_dilemma-v1"
C, D = 0, 1
JOINT = np.array([[C, C], [C, D], [D, C], [D, D]])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"incentives": "per_agent"},
        {"incentives": "peer", "keep_fraction": 0.5},
        {"incentives": "none", "keep_fraction": 0.6},
    ],
    ids=["per_agent", "peer+transfer", "transfer"],
)
def test_battery(kwargs):
    run_battery(PD, kwargs)


def play_all_joint_actions(schedule=(0.0, 0.0), **kwargs):
    """One step of each of the 4 joint actions in a batch; returns (rewards [4, 2], infos)."""
    env = contract_envs.vector.make(PD, 4, seed=0, **kwargs)
    actions = {"agent_0": JOINT[:, 0], "agent_1": JOINT[:, 1]}
    if "principal_0" in env.possible_agents:
        actions["principal_0"] = np.tile(np.asarray(schedule, dtype=np.float64), (4, 1))
    obs, rewards, _, _, infos = env.step(actions)
    return np.stack([rewards["agent_0"], rewards["agent_1"]], axis=1), infos, obs


def test_lola_payoffs_and_memory_one_observation():
    rewards, infos, obs = play_all_joint_actions()
    np.testing.assert_array_equal(rewards, [[-1, -1], [-3, 0], [0, -3], [-2, -2]])
    np.testing.assert_array_equal(infos["principal_0"]["welfare"], [-2, -3, -3, -4])
    for k, (a0, a1) in enumerate(JOINT):
        np.testing.assert_array_equal(obs["agent_0"][k], np.eye(5)[2 * a0 + a1])
        np.testing.assert_array_equal(obs["agent_1"][k], obs["agent_0"][k])
    env = contract_envs.make("parallel", PD)
    first, _ = env.reset(seed=0)
    np.testing.assert_array_equal(first["agent_0"], np.eye(5)[4])


def dominant_in_env(rewards):
    """C weakly dominant for both agents, read from a batch of the 4 joint actions."""
    r0, r1 = rewards[:, 0].reshape(2, 2), rewards[:, 1].reshape(2, 2).T  # [own, other]
    return bool(np.all(r0[C] >= r0[D] - 1e-12) and np.all(r1[C] >= r1[D] - 1e-12))


@pytest.mark.parametrize("tau", [(0.0, 0.0), (0.99, 0.0), (1.0, 0.0), (2.5, 1.5), (3.0, 2.5), (1.5, 0.0), (0.0, 1.0)])
def test_cooperation_dominant_iff_incentive_gap_at_least_one(tau):
    rewards, infos, _ = play_all_joint_actions(tau)
    expected = tau[0] - tau[1] >= 1.0
    assert dominant_in_env(rewards) == expected
    assert solvers.pd_cooperation_dominant(*tau) == expected
    assert solvers.pd_min_incentive_gap() == 1.0
    # the designer pays what the agents receive
    np.testing.assert_allclose(
        infos["principal_0"]["payment"], [2 * tau[0], tau[0] + tau[1], tau[0] + tau[1], 2 * tau[1]]
    )


def test_designer_return_per_step_is_minus_two_minus_two_alpha_at_cooperation():
    env = contract_envs.make("parallel", PD)
    env.reset(seed=0)
    total = 0.0
    for _ in range(5):
        _, rewards, _, truncs, infos = env.step(
            {"principal_0": np.array([1.0, 0.0], np.float32), "agent_0": C, "agent_1": C}
        )
        assert infos["principal_0"]["welfare"] == -2.0
        assert rewards["principal_0"] == -4.0  # alpha = 1: -2 - 2
        total += rewards["principal_0"]
    assert all(truncs.values()) and total == -20.0
    for alpha in (0.0, 0.5, 1.0, 2.0):
        expected = max(-4.0, -2.0 - 2.0 * alpha)
        assert solvers.pd_best_designer_return(alpha) == pytest.approx(expected)
        # through the env: pay tau_C = 1 and both cooperate (-2 - 2 alpha), or pay nothing and both defect (-4)
        env = contract_envs.make("parallel", PD, incentive_cost=alpha)
        env.reset(seed=0)
        _, paid, *_ = env.step({"principal_0": np.array([1.0, 0.0], np.float32), "agent_0": C, "agent_1": C})
        _, free, *_ = env.step({"principal_0": np.zeros(2, np.float32), "agent_0": D, "agent_1": D})
        assert paid["principal_0"] == pytest.approx(-2.0 - 2.0 * alpha) and free["principal_0"] == -4.0
        assert max(paid["principal_0"], free["principal_0"]) == pytest.approx(expected)


@pytest.mark.parametrize("s", [0.0, 0.3, 0.6, 2 / 3, 0.67, 0.8, 1.0])
def test_reward_transfer_makes_cooperation_dominant_iff_s_at_most_two_thirds(s):
    rewards, infos, _ = play_all_joint_actions(incentives="none", keep_fraction=s)
    base = np.array([[-1, -1], [-3, 0], [0, -3], [-2, -2]], dtype=np.float64)
    np.testing.assert_allclose(rewards, s * base + (1 - s) * base[:, ::-1], atol=1e-12)
    expected = s <= 2 / 3 + 1e-12
    assert dominant_in_env(rewards) == expected
    assert solvers.reward_transfer_cooperation_dominant(s) == expected
    # transfers are ledger money: what one gives the other receives (no transfer keys when s = 1)
    assert ("transfer_out" in infos["agent_0"]) == (s < 1)
    if s < 1:
        np.testing.assert_allclose(infos["agent_0"]["transfer_out"], infos["agent_1"]["transfer_in"], atol=1e-12)
    np.testing.assert_allclose(infos["agent_0"]["own_reward"], base[:, 0])


def test_reward_transfer_threshold_formula_and_grid_search():
    assert solvers.reward_transfer_threshold() == pytest.approx(2 / 3)
    assert solvers.reward_transfer_threshold((3, 0, 5, 1)) == pytest.approx(0.6)
    grid = np.round(np.linspace(0, 1, 21), 10)
    assert solvers.reward_transfer_grid_search(grid) == 0.65
    assert solvers.reward_transfer_grid_search(grid, (3, 0, 5, 1)) == 0.6
    rng = np.random.default_rng(0)
    for _ in range(200):  # brute force against the closed form on random dilemmas with T > R > P > S
        s_, p_, r_, t_ = np.sort(rng.normal(size=4))
        star = solvers.reward_transfer_threshold((r_, s_, t_, p_))
        for s in np.linspace(0, 1, 41):
            assert solvers.reward_transfer_cooperation_dominant(s, (r_, s_, t_, p_)) == (s <= star + 1e-9)
        gap = solvers.pd_min_incentive_gap((r_, s_, t_, p_))
        assert solvers.pd_cooperation_dominant(gap, 0.0, (r_, s_, t_, p_))
        assert not solvers.pd_cooperation_dominant(gap - 1e-6, 0.0, (r_, s_, t_, p_))


def test_peer_gift_pays_the_other_on_its_action_and_is_observed():
    env = contract_envs.make("parallel", PD, incentives="peer")
    env.reset(seed=0)
    actions = {
        "agent_0": {"action": C, "incentives": np.array([[2.0, 0.0]], np.float32)},
        "agent_1": {"action": C, "incentives": np.zeros((1, 2), np.float32)},
    }
    obs, rewards, _, _, _ = env.step(actions)
    assert rewards == {"agent_0": -3.0, "agent_1": 1.0}
    assert obs["agent_0"][-1] == 2.0 and obs["agent_1"][-1] == 0.0
    actions["agent_1"]["action"] = D  # the gift is for cooperating only
    obs, rewards, _, _, _ = env.step(actions)
    assert rewards == {"agent_0": -3.0, "agent_1": 0.0}
    assert obs["agent_0"][-1] == 2.0


def test_peer_gifts_and_reward_transfer_are_both_ledger_transfers():
    env = contract_envs.make("parallel", PD, incentives="peer", keep_fraction=0.5)
    env.reset(seed=0)
    actions = {
        "agent_0": {"action": D, "incentives": np.array([[0.0, 1.0]], np.float32)},
        "agent_1": {"action": D, "incentives": np.zeros((1, 2), np.float32)},
    }
    obs, rewards, _, _, infos = env.step(actions)
    # own -2 each, half shared (a wash), plus agent_0's gift of 1 for the other's defection
    assert rewards == {"agent_0": -3.0, "agent_1": -1.0}
    assert obs["agent_0"][-1] == pytest.approx(1.0)  # only the gift counts as given
    assert infos["agent_0"]["transfer_out"] + infos["agent_1"]["transfer_out"] == pytest.approx(
        infos["agent_0"]["transfer_in"] + infos["agent_1"]["transfer_in"]
    )
