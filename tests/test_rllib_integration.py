"""RLlib: every registered game trains one PPO iteration (local Ray), turn-based, one policy per role."""

import numpy as np
import pytest

from tests.ecosystem_cases import RLLIB_CASES
from tests.extras import require

require("ray", "rllib")  # .ci/run installs it

import ray  # noqa: E402
from ray.rllib.algorithms.ppo import PPOConfig  # noqa: E402
from ray.rllib.utils.pre_checks.env import check_multiagent_environments  # noqa: E402

from contract_envs.integrations import rllib  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*Overriding environment.*")


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def _tiny_ppo(env_id, **env_config):
    return (
        rllib.configure(PPOConfig(), env_id, **env_config)
        .env_runners(num_env_runners=0, rollout_fragment_length=64)
        .learners(num_learners=0)
        .training(train_batch_size_per_learner=64, minibatch_size=32, num_epochs=1)
        .debugging(seed=0)
    )


@pytest.mark.parametrize("env_id,kwargs", RLLIB_CASES, ids=[c[0].split("/")[1] for c in RLLIB_CASES])
def test_rllib_ppo_trains_one_iteration(local_ray, env_id, kwargs):
    algo = _tiny_ppo(env_id, **kwargs).build_algo()
    mapping = rllib.role_mapping(env_id, **kwargs)
    before = {p: algo.get_module(p).get_state() for p in mapping.policies}
    result = algo.train()
    learned = set(result["learners"]) - {"__all_modules__"}
    assert learned == mapping.policies  # one policy per role, each updated
    for p in mapping.policies:
        after = algo.get_module(p).get_state()
        changed = any(not np.allclose(before[p][k], after[k]) for k in after)
        assert changed, f"policy {p} did not change in one PPO iteration"
    steps = result["env_runners"]["num_agent_steps_sampled"]
    assert set(steps) == {pl for players in mapping.groups.values() for pl in players}
    algo.stop()


def test_rllib_env_passes_rllibs_checks_and_each_player_moves_once_a_round():
    env = rllib.ContractMultiAgentEnv({"env_id": "contract_envs/coin_game-v1", "horizon": 3})
    check_multiagent_environments(env)
    obs, _ = env.reset(seed=0)
    moves = {p: 0 for p in env.possible_agents}
    steps = 0
    while True:
        assert list(obs) in (["principal_0"], ["agent_0", "agent_1"])  # offer step, then act step
        for p in obs:
            moves[p] += 1
            assert env.observation_spaces[p].contains(obs[p])
        obs, rewards, terms, truncs, _ = env.step({p: env.action_spaces[p].sample() for p in obs})
        steps += 1
        if truncs["__all__"] or terms["__all__"]:
            break
    assert steps == 6 and moves == {"principal_0": 3, "agent_0": 3, "agent_1": 3}  # 3 rounds x (offer, act)
    assert set(obs) == set(env.possible_agents)  # everyone gets its final observation
    assert env.action_spaces["principal_0"].shape == (8,)  # the [2, 4] contract, flattened


def test_rllib_sampled_episodes_have_one_step_per_player_per_round(local_ray):
    algo = _tiny_ppo("contract_envs/coin_game-v1", horizon=4).build_algo()
    episodes = [e for e in algo.env_runner.sample(num_timesteps=64) if e.is_done]
    assert episodes
    for e in episodes:
        assert e.env_steps() == 8  # 4 rounds x (offer step, act step)
        assert {p: len(a) for p, a in e.agent_episodes.items()} == {"principal_0": 4, "agent_0": 4, "agent_1": 4}
    algo.stop()


def test_role_mapping_shares_a_policy_per_role_and_splits_nodes_with_different_spaces():
    coin = rllib.role_mapping("contract_envs/coin_game-v1")
    assert coin.groups == {"principal": ["principal_0"], "agent": ["agent_0", "agent_1"]}
    assert coin("agent_1") == "agent"
    tree = rllib.role_mapping("contract_envs/tree_contracts-v1")
    assert tree.groups == {"node_0": ["node_0"], "node_1": ["node_1"], "node_2": ["node_2"]}
    with pytest.raises(ValueError, match="unknown player 'agent_9'"):
        coin("agent_9")
    with pytest.raises(ValueError, match="needs 'env_id'"):
        rllib.ContractMultiAgentEnv({})
