"""Gymnasium: every registered id passes check_env and is made by ``gymnasium.make("contract_envs:<id>")``."""

import subprocess
import sys
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import contract_envs
from contract_envs.registry import GYMNASIUM_ENVIRONMENTS, env_ids, spec
from tests.ecosystem_cases import GYMNASIUM_IDS


@pytest.mark.parametrize("gym_id", GYMNASIUM_IDS)
def test_gymnasium_id_passes_check_env_and_plays_an_episode(gym_id):
    kwargs = {"horizon": 20} if "Bandit" in gym_id else {}
    env = gymnasium.make(gym_id, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("error", category=UserWarning)  # a checker warning is a failure
        check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs) and "utility" in info
    env.action_space.seed(0)
    total, steps, done = 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
        total += reward
        steps += 1
        done = terminated or truncated
    assert info["episode_utility"] == pytest.approx(total)  # the ledger's running total is the episode return
    assert steps <= (20 if kwargs else 10_000)


def test_gymnasium_make_with_the_module_prefix_needs_no_prior_import():
    code = (
        "import sys, gymnasium\n"
        "assert 'contract_envs' not in sys.modules\n"
        f"for name in {list(GYMNASIUM_ENVIRONMENTS)!r}:\n"
        "    env = gymnasium.make('contract_envs:contract_envs/' + name)\n"
        "    env.reset(seed=0)\n"
        "print('made', len(gymnasium.registry))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("made")


def test_registered_views_follow_the_rule():
    # a principal's view wherever the agents have a reference policy, a single-agent view wherever there is one agent
    expected = set()
    for env_id in env_ids():
        env = contract_envs.make("parallel", env_id)
        game = env.machine.game
        camel = "".join(w.upper() if w in ("mdp",) else w.capitalize() for w in spec(env_id).name.split("_"))
        if game.has_principal and game.default_policy() is not None:
            expected.add(f"{camel}Principal-v1")
        if game.timing != "hierarchical" and game.n_agents == 1:
            expected.add(f"{camel}Agent-v1")
    assert set(GYMNASIUM_ENVIRONMENTS) == expected


def test_single_agent_view_faces_no_contract_by_default_and_rejects_many_agents():
    env = gymnasium.make("contract_envs/PrincipalAgentMDPAgent-v1")
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(obs["contract"], 0.0)
    _, _, _, _, info = env.step(0)
    assert info["payment"] == 0.0
    with pytest.raises(ValueError, match="has 2 agents"):
        contract_envs.wrappers.SingleAgentGymEnv("contract_envs/coin_game-v1")
