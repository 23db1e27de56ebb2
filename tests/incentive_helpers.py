"""Helpers shared by the incentive-design environment tests."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.core.game import Game, GameState
from contract_envs.core.machines import StageMachine
from contract_envs.registry import spec
from contract_envs.rng import BatchedStreams


def new_game(env_id: str, num_envs: int = 1, seed: int = 0, **kwargs: Any) -> tuple[Game, GameState, BatchedStreams]:
    """A game of ``env_id`` with a freshly reset state and its random streams (for rule tests on the state)."""
    game = spec(env_id).make_game(num_envs=num_envs, **kwargs)
    state = game.init_state()
    rng = BatchedStreams.from_seed(seed, num_envs)
    game.reset(state, np.arange(num_envs), rng)
    return game, state, rng


def batched_random_action(space: spaces.Space, num_envs: int, rng: np.random.Generator) -> Any:
    """A random batched action ``[B, ...]`` of a Discrete, Box or Dict space."""
    if isinstance(space, spaces.Dict):
        return {k: batched_random_action(sub, num_envs, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.n, size=num_envs)
    return rng.uniform(space.low, space.high, size=(num_envs, *space.shape)).astype(space.dtype)


def batched_random_actions(env: StageMachine, rng: np.random.Generator) -> dict[str, Any]:
    return {p: batched_random_action(env.action_space(p), env.num_envs, rng) for p in env.possible_agents}


def select_env(actions: Any, b: int) -> Any:
    """The actions of env ``b`` of a batch, kept batched with B = 1."""
    if isinstance(actions, dict):
        return {k: select_env(v, b) for k, v in actions.items()}
    return np.asarray(actions)[b : b + 1]


def assert_tree_equal(a: Any, b: Any, where: str = "") -> None:
    if isinstance(a, dict):
        assert set(a) == set(b), f"{where}: keys {sorted(a)} != {sorted(b)}"
        for k in a:
            assert_tree_equal(a[k], b[k], f"{where}/{k}")
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b), err_msg=where)


def take_env(tree: Any, b: int) -> Any:
    if isinstance(tree, dict):
        return {k: take_env(v, b) for k, v in tree.items()}
    if isinstance(tree, np.ndarray) and tree.ndim >= 1:
        return tree[b : b + 1]
    return tree


def check_ledger_identities(
    env: StageMachine,
    infos: dict[str, dict[str, np.ndarray]],
    rewards: dict[str, np.ndarray] | None = None,
    quasi_linear: bool = True,
) -> None:
    """Money is conserved: what the designer pays is what agents receive; transfers cancel."""
    agents = env.agents
    paid_to_agents = sum(infos[a]["payment"] for a in agents)
    if "principal_0" in infos:
        np.testing.assert_allclose(infos["principal_0"]["payment"], paid_to_agents, rtol=0, atol=1e-9)
    else:
        np.testing.assert_array_equal(paid_to_agents, 0.0)
    if "transfer_in" in infos[agents[0]]:
        total_in = sum(infos[p]["transfer_in"] for p in infos)
        total_out = sum(infos[p]["transfer_out"] for p in infos)
        np.testing.assert_allclose(total_in, total_out, rtol=0, atol=1e-9)
    for a in agents:
        info = infos[a]
        expected = info["own_reward"] + info["payment"] + info.get("transfer_in", 0.0) - info.get("transfer_out", 0.0)
        np.testing.assert_allclose(info["utility"], expected, rtol=0, atol=1e-9)
        if quasi_linear and rewards is not None:
            np.testing.assert_allclose(rewards[a], info["utility"], rtol=0, atol=1e-12)
    welfare = sum(infos[a]["own_reward"] for a in agents)
    if "principal_0" in infos:
        np.testing.assert_allclose(infos["principal_0"]["welfare"], welfare, rtol=0, atol=1e-9)
