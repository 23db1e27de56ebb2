"""Stable-Baselines3 + SuperSuit: PPO trains on the agents-only view of every game (>= 2,048 steps)."""

import numpy as np
import pytest

from tests.ecosystem_cases import SB3_CASES
from tests.ecosystem_cases import SB3_STEPS as STEPS
from tests.extras import require

require("stable_baselines3", "sb3")  # .ci/run installs it

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402

from contract_envs.integrations.sb3 import make_vec_env  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:.*render_mode.*")


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # 2 cores shared by 2 test workers
    yield
    torch.set_num_threads(threads)


def _ppo(env_id, seed, **kwargs):
    venv = make_vec_env(env_id, num_envs=2, **kwargs)
    return PPO("MlpPolicy", venv, n_steps=128, batch_size=64, n_epochs=1, seed=seed, device="cpu")


@pytest.mark.parametrize("env_id,kwargs", SB3_CASES, ids=[c[0].split("/")[1] for c in SB3_CASES])
def test_sb3_ppo_trains_on_the_agents_only_view(env_id, kwargs):
    model = _ppo(env_id, 0, **kwargs)
    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(STEPS)
    assert model.num_timesteps >= STEPS
    assert any(not torch.equal(a, b) for a, b in zip(before, model.policy.parameters(), strict=True))
    assert len(model.ep_info_buffer) > 0  # VecMonitor reported finished episodes
    assert all(np.isfinite(ep["r"]) and ep["l"] > 0 for ep in model.ep_info_buffer)


def test_sb3_seeding_reproduces_a_run_and_different_seeds_differ():
    def rollout(seed):
        model = _ppo("contract_envs/coin_game-v1", seed, horizon=10)
        model.learn(256)
        return model.rollout_buffer.observations.copy(), model.rollout_buffer.actions.copy()

    obs_a, act_a = rollout(3)
    obs_b, act_b = rollout(3)
    obs_c, _ = rollout(4)
    np.testing.assert_array_equal(obs_a, obs_b)
    np.testing.assert_array_equal(act_a, act_b)
    assert not np.array_equal(obs_a, obs_c)  # coin positions are random: another seed, another game


def test_sb3_vec_env_has_one_slot_per_agent_and_copy():
    venv = make_vec_env("contract_envs/escape_room-v1", num_envs=3)
    assert venv.num_envs == 3 * 5
    tree = make_vec_env("contract_envs/tree_contracts-v1", num_envs=1)
    assert tree.num_envs == 3 and tree.observation_space.shape == (9,)  # nodes padded to the largest observation
