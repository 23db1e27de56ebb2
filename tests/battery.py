"""The test battery every PettingZoo environment of the suite must pass (imported by env tests).

Usage in an env's test module::

    from tests.battery import run_battery
    def test_battery(): run_battery(my_env_v0, kwargs={...})
"""

from __future__ import annotations

import functools
import pickle
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import api_test, max_cycles_test, parallel_api_test, render_test, state_test


def random_action(space, rng: np.random.Generator) -> Any:
    """A valid random action of a Discrete, MultiDiscrete, Box or Dict space (numpy-seeded, so reproducible)."""
    if isinstance(space, spaces.Dict):
        return {k: random_action(sub, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.MultiDiscrete):
        return (space.start + rng.integers(space.nvec)).astype(space.dtype)
    if hasattr(space, "n"):
        return int(rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(space.dtype)


def random_actions(env, rng: np.random.Generator) -> dict[str, Any]:
    """Valid random actions for every live player (numpy-seeded, so reproducible)."""
    return {p: random_action(env.action_space(p), rng) for p in env.agents}


def rollout(env, seed: int, steps: int, action_seed: int = 0) -> list:
    """Trajectory of a Parallel env under seeded random actions, resetting at episode ends."""
    rng = np.random.default_rng(action_seed)
    traj = [env.reset(seed=seed)]
    for _ in range(steps):
        if not env.agents:
            traj.append(env.reset())
        actions = random_actions(env, rng)
        traj.append((actions, env.step(actions)))
    return traj


def check_determinism(parallel_fn, kwargs: dict, steps: int = 200, stochastic: bool = True) -> None:
    """Same seed, same multi-step trajectory (PettingZoo 1.27's parallel_seed_test checks one step).

    ``stochastic=False`` for environments with deterministic rules (the seed then changes nothing)."""
    a = rollout(parallel_fn(**kwargs), seed=42, steps=steps)
    b = rollout(parallel_fn(**kwargs), seed=42, steps=steps)
    assert data_equivalence(a, b, exact=True)
    if stochastic:
        c = rollout(parallel_fn(**kwargs), seed=43, steps=steps)
        assert not data_equivalence(a, c, exact=True), "different seeds gave identical trajectories"


def check_pickle(parallel_fn, kwargs: dict, steps: int = 50) -> None:
    env = parallel_fn(**kwargs)
    clone = pickle.loads(pickle.dumps(env))
    assert data_equivalence(rollout(env, 7, steps), rollout(clone, 7, steps), exact=True)


def check_aec_matches_parallel(module: ModuleType, kwargs: dict, steps: int = 60) -> None:
    """Same seed and actions through the AEC and Parallel APIs give the same rewards and ledger."""
    par = module.parallel_env(**kwargs)
    aec = module.env(**kwargs)
    rng = np.random.default_rng(0)
    par.reset(seed=5)
    aec.reset(seed=5)
    for _ in range(steps):
        if not par.agents:
            break
        actions = random_actions(par, rng)
        _, rewards, terms, truncs, infos = par.step(actions)
        for p in list(aec.agents):
            assert aec.agent_selection == p
            aec.step(actions[p])
        for p in rewards:
            assert aec.rewards[p] == rewards[p]
            assert aec.infos[p] == infos[p]
            assert aec.terminations[p] == terms[p] and aec.truncations[p] == truncs[p]


def run_battery(
    module: ModuleType, kwargs: dict | None = None, cycles: int = 300, max_cycles_kwargs: dict | None = None,
    stochastic: bool = True,
) -> None:
    """PettingZoo's API tests plus the suite's determinism, pickling and AEC/Parallel checks.

    PettingZoo's ``max_cycles_test`` plays random actions and needs episodes that do not terminate
    before 4 steps; ``max_cycles_kwargs`` (default: ``kwargs``) picks such a configuration for
    environments whose default episodes can end early. ``stochastic=False`` for environments
    with deterministic rules (different seeds then give the same trajectory).
    """
    kwargs = dict(kwargs or {})
    parallel_api_test(module.parallel_env(**kwargs), num_cycles=cycles)
    api_test(module.env(**kwargs), num_cycles=cycles)
    mc_kwargs = dict(kwargs if max_cycles_kwargs is None else max_cycles_kwargs)
    max_cycles_test(
        SimpleNamespace(
            parallel_env=functools.partial(module.parallel_env, **mc_kwargs),
            env=functools.partial(module.env, **mc_kwargs),
        )
    )
    render_test(lambda render_mode=None: module.env(render_mode=render_mode, **kwargs))
    state_test(module.env(**kwargs), module.parallel_env(**kwargs))
    check_determinism(module.parallel_env, kwargs, stochastic=stochastic)
    check_pickle(module.parallel_env, kwargs)
    check_aec_matches_parallel(module, kwargs)
