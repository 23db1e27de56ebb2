"""Role views over the principal-agent MDP: the agents' game and the principal's Gymnasium env."""

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import parallel_api_test

from contract_envs.games.principal_agent_mdp import hidden_action_e8
from contract_envs.views import AgentsOnlyParallelEnv, PrincipalGymEnv

ENV_ID = "contract_envs/principal_agent_mdp-v1"


def test_agents_only_view_passes_parallel_api_and_applies_the_principal_policy():
    offered = np.array([[0.0, 0.5]], np.float32)
    env = AgentsOnlyParallelEnv(ENV_ID, principal_policy=lambda obs: offered, spec=hidden_action_e8())
    parallel_api_test(env, num_cycles=50)
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["agent_0"]["contract"], offered[0])  # the agent sees its contract
    _, rew, term, _, info = env.step({"agent_0": 2})
    assert term["agent_0"] and info["agent_0"]["payment"] in (0.0, 0.5)
    assert rew["agent_0"] == pytest.approx(-0.3 + info["agent_0"]["payment"])


def test_agents_only_view_without_principal_offers_nothing():
    env = AgentsOnlyParallelEnv(ENV_ID, principal_policy=None, depth=3)
    obs, _ = env.reset(seed=0)
    total = 0.0
    while env.agents:
        assert not obs["agent_0"]["contract"].any()
        obs, rew, _, _, info = env.step({"agent_0": 1})
        total += info["agent_0"]["payment"]
    assert total == 0.0


def test_principal_gym_view_passes_check_env_and_reproduces_e8():
    def agent(agent_id, obs):  # best response to the offered contract in the one-shot game
        probs = np.array([0.1, 0.5, 0.9])
        value = probs * obs["contract"][1] + (1 - probs) * obs["contract"][0] - np.array([0.0, 0.1, 0.3])
        return int(np.flatnonzero(value >= value.max() - 1e-6)[-1])  # ties: costliest = principal-preferred

    env = PrincipalGymEnv(ENV_ID, agent_policy=agent, spec=hidden_action_e8())
    check_env(env, skip_render_check=True)
    returns = []
    for seed in range(4000):
        env.reset(seed=seed)
        _, reward, terminated, _, info = env.step(np.array([[0.0, 0.5]], np.float32))
        assert terminated and info["payment"] in (0.0, 0.5)
        returns.append(reward)
    assert np.mean(returns) == pytest.approx(0.45, abs=4 * np.std(returns) / np.sqrt(len(returns)))


def test_principal_gym_view_rejects_bad_agent_policy():
    with pytest.raises(ValueError, match="agent_policy"):
        PrincipalGymEnv(ENV_ID, agent_policy=42)
    with pytest.raises(ValueError, match="no reference policy"):
        PrincipalGymEnv(ENV_ID)  # the principal-agent MDP has no default agent
    with pytest.raises(ValueError, match=r"no policy for \['agent_0'\]"):
        PrincipalGymEnv(ENV_ID, agent_policy={})
