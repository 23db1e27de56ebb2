"""The battery every registered environment passes, generic over the registry.

``tests/test_battery.py`` runs each check for every id of ``contract_envs.env_ids()`` with the
game's default arguments, so a new game is covered by registering it; env test modules call the
checks again with other arguments (``run_battery(env_id, kwargs)``).
"""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence
from pettingzoo.test import api_test, parallel_api_test, render_test, state_test

import contract_envs
import contract_envs.vector
from contract_envs.adapters.views import AgentsOnlyParallelEnv, PrincipalGymEnv
from contract_envs.contracts import PRINCIPAL
from contract_envs.registry import spec


# --------------------------------------------------------------------------- random moves
def random_action(space: spaces.Space, rng: np.random.Generator) -> Any:
    """A valid random action of a Discrete, MultiDiscrete, Box or Dict space (numpy-seeded)."""
    if isinstance(space, spaces.Dict):
        return {k: random_action(sub, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.MultiDiscrete):
        return (space.start + rng.integers(space.nvec)).astype(space.dtype)
    if isinstance(space, spaces.Discrete):
        return int(space.start + rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(space.dtype)


def batched_random_action(space: spaces.Space, batch: int, rng: np.random.Generator) -> Any:
    """``batch`` valid random actions of ``space`` with a leading batch axis."""
    if isinstance(space, spaces.Dict):
        return {k: batched_random_action(sub, batch, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(space.nvec, size=(batch, *space.shape))
    if isinstance(space, spaces.Discrete):
        return space.start + rng.integers(space.n, size=batch)
    return rng.uniform(space.low, space.high, size=(batch, *space.shape)).astype(space.dtype)


def random_actions(env, rng: np.random.Generator) -> dict[str, Any]:
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


def aec_rollout(env, seed: int, steps: int, action_seed: int = 0) -> list:
    rng = np.random.default_rng(action_seed)
    env.reset(seed=seed)
    traj = []
    for _ in range(steps):
        if not env.agents:
            env.reset()
        agent = env.agent_selection
        obs, reward, term, trunc, info = env.last()
        action = None if term or trunc else random_action(env.action_space(agent), rng)
        traj.append((agent, obs, reward, term, trunc, info, action))
        env.step(action)
    return traj


def equal(a: Any, b: Any) -> bool:
    return data_equivalence(a, b, exact=True)


# --------------------------------------------------------------------------- PettingZoo's tests
def check_pettingzoo(env_id: str, kwargs: dict) -> None:
    """PettingZoo's Parallel and AEC API tests, render and state tests."""
    parallel_api_test(contract_envs.make("parallel", env_id, **kwargs), num_cycles=120)
    api_test(contract_envs.make("aec", env_id, **kwargs), num_cycles=120)
    render_test(lambda render_mode=None: contract_envs.make("aec", env_id, render_mode=render_mode, **kwargs))
    state_test(contract_envs.make("aec", env_id, **kwargs), contract_envs.make("parallel", env_id, **kwargs))


def check_max_cycles(env_id: str, kwargs: dict, max_cycles: int = 4) -> None:
    """PettingZoo's meaning of ``max_cycles``: Parallel ``step`` calls; AEC rounds (every player moves once
    a round). Episodes end at ``max_cycles`` (or at the game's own horizon, if shorter) unless they
    terminate first."""
    rng = np.random.default_rng(0)
    par = contract_envs.make("parallel", env_id, max_cycles=max_cycles, **kwargs)
    horizon = par.machine.game.horizon  # rounds
    round_limit = max_cycles if horizon is None else min(max_cycles, horizon)
    step_limit = max_cycles if horizon is None else min(max_cycles, horizon * par.machine.stages_per_round)
    par.reset(seed=0)
    steps, terminated = 0, False
    while par.agents:
        _, _, terms, truncs, _ = par.step(random_actions(par, rng))
        steps += 1
        terminated = any(terms.values())
    assert steps == step_limit or (terminated and steps < step_limit)
    aec = contract_envs.make("aec", env_id, max_cycles=max_cycles, **kwargs)
    aec.reset(seed=0)
    counts = dict.fromkeys(aec.possible_agents, 0)
    terminated = False
    for agent in aec.agent_iter():
        _, _, term, trunc, _ = aec.last()
        terminated |= term
        counts[agent] += 1
        aec.step(None if term or trunc else random_action(aec.action_space(agent), rng))
    turns = set(counts.values())
    assert len(turns) == 1, f"every player has one turn a round, got {counts}"
    assert turns.pop() - 1 == round_limit or terminated


# --------------------------------------------------------------------------- determinism, copies
def check_determinism(env_id: str, kwargs: dict, steps: int = 120) -> None:
    """Same seed, same multi-step trajectory, in the Parallel and the AEC API."""
    a = rollout(contract_envs.make("parallel", env_id, **kwargs), seed=42, steps=steps)
    b = rollout(contract_envs.make("parallel", env_id, **kwargs), seed=42, steps=steps)
    assert equal(a, b)
    a = aec_rollout(contract_envs.make("aec", env_id, **kwargs), seed=42, steps=steps)
    b = aec_rollout(contract_envs.make("aec", env_id, **kwargs), seed=42, steps=steps)
    assert equal(a, b)


def _continue_parallel(env, rng: np.random.Generator, steps: int) -> list:
    out = []
    for _ in range(steps):
        if not env.agents:
            out.append(env.reset())
        actions = random_actions(env, rng)
        out.append(env.step(actions))
    return out


def check_copies(env_id: str, kwargs: dict, points: tuple[int, ...] = (0, 1, 3, 6, 11)) -> None:
    """Pickle and deepcopy at several steps of an episode continue exactly as the original (Parallel,
    AEC, batched, role views)."""
    for k in points:
        for clone_fn in (lambda e: pickle.loads(pickle.dumps(e)), copy.deepcopy):
            env = contract_envs.make("parallel", env_id, **kwargs)
            env.reset(seed=3)
            _continue_parallel(env, np.random.default_rng(k), k)
            twin = clone_fn(env)
            assert twin.agents == env.agents
            a = _continue_parallel(env, np.random.default_rng(100 + k), 12)
            b = _continue_parallel(twin, np.random.default_rng(100 + k), 12)
            assert equal(a, b), f"Parallel copy after {k} steps diverged"

            aec = contract_envs.make("aec", env_id, **kwargs)
            aec_rollout_steps(aec, np.random.default_rng(k), k, seed=3)
            twin = clone_fn(aec)
            a = aec_rollout_steps(aec, np.random.default_rng(200 + k), 15)
            b = aec_rollout_steps(twin, np.random.default_rng(200 + k), 15)
            assert equal(a, b), f"AEC copy after {k} turns diverged"

            vec = contract_envs.vector.make(env_id, 3, seed=5, **kwargs)
            rng = np.random.default_rng(k)
            for _ in range(k):
                vec.step(_batched_actions(vec, rng))
            twin = clone_fn(vec)
            a = [vec.step(_batched_actions(vec, np.random.default_rng(300 + j))) for j in range(8)]
            b = [twin.step(_batched_actions(twin, np.random.default_rng(300 + j))) for j in range(8)]
            assert equal(a, b), f"batched copy after {k} steps diverged"

    view = AgentsOnlyParallelEnv(env_id, **kwargs)
    view.reset(seed=1)
    _continue_parallel(view, np.random.default_rng(0), 3)
    twin = pickle.loads(pickle.dumps(view))
    assert equal(
        _continue_parallel(view, np.random.default_rng(1), 6), _continue_parallel(twin, np.random.default_rng(1), 6)
    )


def aec_rollout_steps(env, rng: np.random.Generator, steps: int, seed: int | None = None) -> list:
    if seed is not None:
        env.reset(seed=seed)
    out = []
    for _ in range(steps):
        if not env.agents:
            env.reset()
        agent = env.agent_selection
        last = env.last()
        action = None if last[2] or last[3] else random_action(env.action_space(agent), rng)
        out.append((agent, last, action))
        env.step(action)
    return out


def _batched_actions(vec, rng: np.random.Generator) -> dict[str, Any]:
    return {p: batched_random_action(vec.action_space(p), vec.num_envs, rng) for p in vec.possible_agents}


def check_snapshot_restore(env_id: str, kwargs: dict) -> None:
    """A restored snapshot replays the same future (batched API)."""
    vec = contract_envs.vector.make(env_id, 4, seed=9, **kwargs)
    rng = np.random.default_rng(0)
    for _ in range(5):
        vec.step(_batched_actions(vec, rng))
    snap = vec.snapshot()
    actions = [_batched_actions(vec, np.random.default_rng(50 + j)) for j in range(10)]
    first = [vec.step(a) for a in actions]
    vec.restore(snap)
    second = [vec.step(a) for a in actions]
    assert equal(first, second)


def check_batched_matches_single(env_id: str, kwargs: dict, rounds: int = 25, batch: int = 3) -> None:
    """Environment ``b`` of a batch seeded ``s`` plays exactly like a single environment seeded ``s + b``."""
    vec = contract_envs.vector.make(env_id, batch, seed=20, **kwargs)
    singles = [contract_envs.vector.make(env_id, 1, seed=20 + b, **kwargs) for b in range(batch)]
    rng = np.random.default_rng(0)
    for _ in range(rounds * vec.stages_per_round):
        actions = _batched_actions(vec, rng)
        out = vec.step(actions)
        for b, single in enumerate(singles):
            one = {p: _index(a, b) for p, a in actions.items()}
            got = single.step(one)
            assert equal(_index_tree(out, b), _index_tree(got, 0)), f"env {b} of the batch diverged"


def _index(x: Any, b: int) -> Any:
    if isinstance(x, dict):
        return {k: _index(v, b) for k, v in x.items()}
    return x[b : b + 1]


def _index_tree(x: Any, b: int) -> Any:
    if isinstance(x, dict):
        return {k: _index_tree(v, b) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_index_tree(v, b) for v in x)
    if np.ndim(x) == 0:  # the same for every environment of the batch (e.g. "acting")
        return x
    return np.asarray(x)[b]


def check_aec_matches_parallel(env_id: str, kwargs: dict, rounds: int = 20) -> None:
    """One move per player per round, given to the AEC env at its turn and to the Parallel env in every
    stage the player moves in, gives the same rewards, infos, terminations and observations."""
    par = contract_envs.make("parallel", env_id, **kwargs)
    aec = contract_envs.make("aec", env_id, **kwargs)
    par.reset(seed=5)
    aec.reset(seed=5)
    machine = par.machine
    rng = np.random.default_rng(0)
    for _ in range(rounds):
        if not par.agents:
            break
        moves = {p: random_action(par.action_space(p), rng) for p in machine.turns}
        round_rewards = dict.fromkeys(par.possible_agents, 0.0)
        for movers in machine.stage_movers:
            _, rewards, terms, truncs, infos = par.step({p: moves[p] for p in movers})
            for p, r in rewards.items():
                round_rewards[p] += r
        for p in machine.turns:
            assert aec.agent_selection == p
            aec.step(moves[p])
        for p in par.possible_agents:
            assert math.isclose(aec.rewards[p], round_rewards[p], rel_tol=0, abs_tol=1e-12)
            assert equal(aec.infos[p], infos[p])
            assert aec.terminations[p] == terms[p] and aec.truncations[p] == truncs[p]
        if not any(terms.values()) and not any(truncs.values()):
            obs = par.machine.observe_at(0)
            for p in par.possible_agents:
                assert equal(aec.observe(p), obs[p])


# --------------------------------------------------------------------------- episodes and bad input
def check_episode_guards(env_id: str, kwargs: dict) -> None:
    """Stepping before the first reset or after the end (without reset) raises in every API."""
    import pytest

    par = contract_envs.make("parallel", env_id, max_cycles=2, **kwargs)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        par.step({})
    par.reset(seed=0)
    rng = np.random.default_rng(0)
    while par.agents:
        par.step(random_actions(par, rng))
    for actions in ({}, {p: None for p in par.possible_agents}):
        with pytest.raises(RuntimeError, match="ended"):
            par.step(actions)
    aec = contract_envs.make("aec", env_id, max_cycles=1, **kwargs)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        aec.step(0)
    aec.reset(seed=0)
    for agent in aec.agent_iter():
        _, _, term, trunc, _ = aec.last()
        aec.step(None if term or trunc else random_action(aec.action_space(agent), rng))
    with pytest.raises(RuntimeError, match="ended"):
        aec.step(None)
    vec = contract_envs.vector.make(env_id, 2, seed=0, autoreset=False, **kwargs)
    horizon = vec.game.horizon or 10**9
    with pytest.raises(RuntimeError, match="ended"):
        for _ in range(min(horizon, 10_000) * vec.stages_per_round + 1):
            vec.step(_batched_actions(vec, rng))
    machine = contract_envs.core.machines.machine_for(spec(env_id).make_game(2, **kwargs))
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        machine.step(_batched_actions(vec, rng))
    view = AgentsOnlyParallelEnv(env_id, max_cycles=1, **kwargs)
    with pytest.raises(RuntimeError, match=r"reset\(\)"):
        view.step({})
    view.reset(seed=0)
    view.step(random_actions(view, rng))
    with pytest.raises(RuntimeError, match="ended"):
        view.step(random_actions(view, rng) if view.agents else {})


def principal_view(env_id: str, kwargs: dict) -> PrincipalGymEnv | None:
    """The first player's Gymnasium view, other players random (seeded), or ``None`` without a principal."""
    machine = contract_envs.core.machines.machine_for(spec(env_id).make_game(1, **kwargs))
    player = machine.possible_agents[0]
    if player != PRINCIPAL and machine.game.timing != "hierarchical":
        return None
    rng = np.random.default_rng(0)
    spaces_ = {p: machine.action_space(p) for p in machine.possible_agents}
    return PrincipalGymEnv(env_id, lambda p, obs: random_action(spaces_[p], rng), **kwargs)


# --------------------------------------------------------------------------- fuzz
def bad_values(space: spaces.Space) -> list[tuple[str, Any]]:
    """Invalid moves for ``space``: out of range, non-integral, NaN/inf, wrong shape or dtype, missing keys."""
    if isinstance(space, spaces.Dict):
        good = {k: random_action(sub, np.random.default_rng(0)) for k, sub in space.spaces.items()}
        out = [("missing key", {k: v for k, v in list(good.items())[1:]}), ("extra key", {**good, "bogus": 0})]
        for key, sub in space.spaces.items():
            for label, value in bad_values(sub)[:4]:
                out.append((f"{key}: {label}", {**good, key: value}))
        return out
    if isinstance(space, spaces.Discrete):
        n = int(space.n)
        return [
            ("negative", -1),
            ("too large", n),
            ("non-integer", 0.5),
            ("string", "a"),
            ("NaN", float("nan")),
            ("bool", True),
            ("wrong shape", np.zeros((2, 3), dtype=np.int64)),
        ]
    if isinstance(space, spaces.MultiDiscrete):
        return [
            ("too large", np.asarray(space.nvec)),
            ("negative", -np.ones(space.shape, np.int64)),
            ("float", np.full(space.shape, 0.5)),
        ]
    low, high = np.broadcast_to(space.low, space.shape), np.broadcast_to(space.high, space.shape)
    mid = ((low + high) / 2).astype(np.float32)
    first = (0,) * len(space.shape)

    def with_entry(value: float) -> np.ndarray:
        arr = mid.astype(np.float64)
        arr[first] = value
        return arr

    return [
        ("NaN", with_entry(np.nan)),
        ("inf", with_entry(np.inf)),
        ("below the range", with_entry(low[first] - 1.0)),
        ("above the range", with_entry(high[first] + 1.0)),
        ("wrong shape", np.zeros((*space.shape, 2))),
        ("strings", np.full(space.shape, "x")),
        ("complex", mid.astype(np.complex128)),
    ]


def _named(message: str, player: str) -> bool:
    """The message names the player and says what is allowed."""
    return player in message and any(w in message for w in ("allowed", "expected", "must", "in [", "unknown"))


def fuzz_env(env_id: str, kwargs: dict) -> int:
    """Give bad moves to every API and check each raises ``ValueError`` at that step, naming the player and
    the allowed range, and leaves the environment as it was. Returns the number of bad inputs tried."""
    import pytest

    tried = 0
    # Parallel: a bad move of each player in each stage (counted or not)
    par = contract_envs.make("parallel", env_id, **kwargs)
    par.reset(seed=0)
    rng = np.random.default_rng(1)
    machine = par.machine
    for stage in range(machine.stages_per_round):
        for player in par.possible_agents:
            for label, value in bad_values(par.action_space(player)):
                probe, twin = copy.deepcopy(par), copy.deepcopy(par)
                actions = random_actions(par, np.random.default_rng(stage))
                actions[player] = value
                with pytest.raises(ValueError) as err:
                    probe.step(actions)
                assert _named(str(err.value), player), f"{label}: {err.value}"
                tried += 1
                good = random_actions(par, np.random.default_rng(7))
                assert equal(probe.step(good), twin.step(good)), f"state changed by the rejected move ({label})"
        par.step(random_actions(par, rng))
        if not par.agents:
            par.reset()
    with pytest.raises(ValueError, match="unknown player"):
        par.step({**random_actions(par, rng), "agent_99": 0})
    tried += 1
    for player in machine.stage_movers[machine.stage]:  # a missing counted move
        actions = random_actions(par, rng)
        del actions[player]
        with pytest.raises(ValueError) as err:
            par.step(actions)
        assert player in str(err.value)
        tried += 1

    # AEC: a bad move at each player's turn raises there and the turn stays the player's
    aec = contract_envs.make("aec", env_id, **kwargs)
    aec.reset(seed=0)
    for player in machine.turns:
        assert aec.agent_selection == player
        for label, value in bad_values(aec.action_space(player))[:5]:
            with pytest.raises(ValueError) as err:
                aec.step(value)
            assert _named(str(err.value), player), f"{label}: {err.value}"
            assert aec.agent_selection == player
            tried += 1
        aec.step(random_action(aec.action_space(player), rng))

    # batched: one bad environment in a batch of 3
    vec = contract_envs.vector.make(env_id, 3, seed=0, **kwargs)
    for player in vec.stage_movers[vec.stage]:
        for label, value in bad_values(vec.action_space(player))[:5]:
            actions = _batched_actions(vec, rng)
            actions[player] = _with_bad_env(actions[player], value)
            with pytest.raises(ValueError) as err:
                vec.step(actions)
            assert player in str(err.value), f"{label}: {err.value}"
            tried += 1
    with pytest.raises(ValueError, match="unknown player"):
        vec.step({**_batched_actions(vec, rng), "principal_7": np.zeros(3)})
    tried += 1

    # role views
    view = AgentsOnlyParallelEnv(env_id, **kwargs)
    view.reset(seed=0)
    for player in view.possible_agents[:2]:
        for label, value in bad_values(view.action_space(player))[:4]:
            actions = random_actions(view, rng)
            actions[player] = value
            with pytest.raises(ValueError) as err:
                view.step(actions)
            assert _named(str(err.value), player), f"{label}: {err.value}"
            tried += 1
    with pytest.raises(ValueError, match="unknown agent"):
        view.step({**random_actions(view, rng), "principal_0": 0})
    tried += 1
    gym_view = principal_view(env_id, kwargs)
    if gym_view is not None:
        gym_view.reset(seed=0)
        for label, value in bad_values(gym_view.action_space)[:5]:
            with pytest.raises(ValueError) as err:
                gym_view.step(value)
            assert _named(str(err.value), gym_view.player), f"{label}: {err.value}"
            tried += 1
    return tried


def _with_bad_env(batch: Any, value: Any) -> Any:
    """A batch whose environment 1 holds ``value`` (where the shapes allow), else ``value`` itself."""
    if isinstance(batch, dict) or isinstance(value, (dict, str)) or np.ndim(value) != np.ndim(batch) - 1:
        return value
    arr = np.array(batch, dtype=np.result_type(np.asarray(batch).dtype, np.asarray(value).dtype))
    try:
        arr[1] = value
    except (ValueError, TypeError):
        return value
    return arr


def fuzz_constructor(env_id: str) -> int:
    """Every numeric argument of the game's ``make_game`` rejects NaN, inf and strings (and integer arguments
    non-integral values) with a ``ValueError`` naming the argument."""
    import inspect

    import pytest

    tried = 0
    make_game = spec(env_id).rules.make_game
    for name, param in inspect.signature(make_game).parameters.items():
        default = param.default
        if name == "num_envs" or isinstance(default, bool) or not isinstance(default, (int, float)):
            continue
        bad = [float("nan"), float("inf"), "3"]
        if isinstance(default, int):
            bad.append(default + 0.5)
        for value in bad:
            with pytest.raises(ValueError) as err:
                contract_envs.make("parallel", env_id, **{name: value})
            assert name.split("_")[0] in str(err.value), f"{name}={value!r}: {err.value}"
            tried += 1
    for bad_n in (2.5, 0, -1, "2"):
        with pytest.raises(ValueError, match="num_envs"):
            contract_envs.vector.make(env_id, bad_n)
        tried += 1
    for seed in (-1, 2**64, 1.5, "0"):
        with pytest.raises(ValueError, match="seed"):
            contract_envs.make("parallel", env_id).reset(seed=seed)
        tried += 1
    return tried


def run_battery(env_id: str, kwargs: dict | None = None) -> None:
    """Every check for one configuration (env test modules use it for non-default arguments)."""
    kwargs = dict(kwargs or {})
    check_pettingzoo(env_id, kwargs)
    check_max_cycles(env_id, kwargs)
    check_determinism(env_id, kwargs)
    check_copies(env_id, kwargs, points=(0, 3, 7))
    check_snapshot_restore(env_id, kwargs)
    check_batched_matches_single(env_id, kwargs)
    check_aec_matches_parallel(env_id, kwargs)
    check_episode_guards(env_id, kwargs)
