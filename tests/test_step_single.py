"""VectorContractEnv.step_single (the B = 1 adapters' fast path) equals step at index 0."""

from __future__ import annotations

import numpy as np
import pytest

import contract_envs.vector

CASES = [
    ("contract_envs/coin_game-v0", {"preset": "parl_3x3", "max_steps": 4}),
    ("contract_envs/coin_game-v0", {"preset": "jaxmarl", "principal": False, "max_steps": 3}),
    ("contract_envs/coin_game-v0", {"preset": "rllib", "reward_sharing": 0.5, "n_agents": 3, "max_steps": 3}),
    ("contract_envs/principal_agent_mdp-v0", {}),
]


def _first(x):
    if isinstance(x, dict):
        return {k: _first(v) for k, v in x.items()}
    return x[0] if isinstance(x, np.ndarray) else x


@pytest.mark.parametrize("env_id, kwargs", CASES)
def test_step_single_matches_step(env_id, kwargs):
    batched = contract_envs.vector.make(env_id, 1, seed=3, autoreset=False, **kwargs)
    single = contract_envs.vector.make(env_id, 1, seed=3, autoreset=False, **kwargs)
    rng = np.random.default_rng(0)
    game = batched.game
    for _ in range(40):
        actions = {a: rng.integers(0, game.n_actions, 1) for a in batched.agents}
        if game.has_principal:
            actions["principal_0"] = rng.uniform(0, game.terms.payment_cap, (1, *game.terms.shape))
        obs, rewards, terms, truncs, infos = batched.step(actions)
        obs1, rewards1, term1, trunc1, infos1 = single.step_single(actions)
        for p in batched.possible_agents:
            got, want = obs1[p], _first(obs[p])
            if isinstance(want, dict):
                assert all(np.array_equal(got[k], want[k]) for k in want)
            else:
                assert np.array_equal(got, want)
            assert rewards1[p] == float(rewards[p][0]) and isinstance(rewards1[p], float)
            assert term1 == bool(terms[p][0]) and trunc1 == bool(truncs[p][0])
            assert infos1[p] == {k: (float(v[0]) if isinstance(v, np.ndarray) else v) for k, v in infos[p].items()}
        if term1 or trunc1:
            batched.reset(seed=None)
            single.reset(seed=None)


def test_step_single_needs_one_env_without_autoreset():
    with pytest.raises(ValueError, match="num_envs == 1"):
        contract_envs.vector.make("contract_envs/coin_game-v0", 2, seed=0).step_single({})
