"""Wrappers any learning library can use, generic over every registered game.

* :class:`ObservationFlattener`: a ``Dict`` / grid / ``Discrete`` observation as one float32 ``Box``,
  either flat (``layout="flat"``: 1-D, ``Discrete`` parts one-hot) or CNN-ready
  (``layout="image"``: the grid as ``[C, H, W]`` or ``[H, W, C]``, every other part broadcast to extra
  constant channels), for libraries whose default models take one array.
* :class:`ActionFlattener`: the principal's ``[N, O]`` contract as a 1-D ``Box`` (and back, by the
  inverse reshape); a ``Dict`` move mixing discrete and continuous parts (an inner node of a tree:
  its own action, recommendations, transfers) as one ``Box`` in which each discrete choice is the
  argmax of a block of scores. A ``Discrete`` action stays as it is.
* :class:`FlattenParallelEnv` / :class:`FlattenGymEnv`: those flatteners applied to a PettingZoo
  ParallelEnv (the full game, or the agents-only view for SuperSuit and BenchMARL) or to a
  Gymnasium env (the role views).
* :class:`SingleAgentGymEnv`: the agent of a one-agent game as a Gymnasium env (registered with
  Gymnasium as ``contract_envs/<Name>Agent-v1``).
* :class:`TurnBasedEnv`: a multi-agent env in which **only the players whose move counts observe
  and act** in a step (RLlib's turn-based multi-agent convention), built on the stage machine's
  ``stage_movers``: with Principal-Agent RL timing a round is one step of the principal (its offer)
  and one step of the agents (their actions, seeing the offer); in incentive games everyone moves in
  one step; in trees each node moves once a round, top-down, its offer and its own action in one
  move (the AEC turn order, ``machine.turns``). No player ever gives a move that would be ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from pettingzoo.utils.wrappers import BaseParallelWrapper

from contract_envs.checks import check_choice
from contract_envs.core.machines import StageMachine, machine_for
from contract_envs.registry import spec

OBSERVATION_LAYOUTS = ("raw", "flat", "image")
ACTION_LAYOUTS = ("raw", "flat")


# ---------------------------------------------------------------------- observations
def _parts(space: spaces.Space) -> list[tuple[str, spaces.Space]]:
    """The leaves of a (possibly nested) Dict space, in key order, with their paths."""
    if isinstance(space, spaces.Dict):
        out = []
        for key, sub in space.spaces.items():
            out += [(f"{key}/{path}" if path else key, leaf) for path, leaf in _parts(sub)]
        return out
    return [("", space)]


def _leaf_bounds(space: spaces.Space) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(space, spaces.Box):
        return space.low.astype(np.float32).reshape(-1), space.high.astype(np.float32).reshape(-1)
    if isinstance(space, spaces.Discrete):
        return np.zeros(space.n, np.float32), np.ones(space.n, np.float32)
    if isinstance(space, spaces.MultiDiscrete):
        n = int(space.nvec.sum())
        return np.zeros(n, np.float32), np.ones(n, np.float32)
    if isinstance(space, spaces.MultiBinary):
        n = int(np.prod(space.shape))
        return np.zeros(n, np.float32), np.ones(n, np.float32)
    raise TypeError(f"cannot flatten observation space {space!r} (Box, Discrete, MultiDiscrete, MultiBinary, Dict)")


def _leaf_values(space: spaces.Space, value: Any) -> np.ndarray:
    if isinstance(space, (spaces.Discrete, spaces.MultiDiscrete)):
        return spaces.flatten(space, value).astype(np.float32, copy=False)
    return np.asarray(value, dtype=np.float32).reshape(-1)


def _get(obs: Any, path: str) -> Any:
    for key in path.split("/") if path else ():
        obs = obs[key]
    return obs


class ObservationFlattener:
    """One observation space as a single float32 ``Box`` (see the module docstring).

    Args:
        space: the player's observation space.
        layout: ``"flat"`` (1-D) or ``"image"`` (needs a 3-D ``Box`` part, the grid).
        channels: with ``layout="image"``, the output layout, ``"first"`` (``[C, H, W]``, PyTorch) or
            ``"last"`` (``[H, W, C]``, RLlib's default CNN encoder).
        grid_channels: where the grid part holds its channels, ``"first"``, ``"last"`` or ``None`` (the
            smaller of the first and last axes; Coin Game's ``[4, 7, 7]`` is channels-first, Cleanup's
            ``[9, 9, 3]`` channels-last).
    """

    def __init__(
        self, space: spaces.Space, layout: str = "flat", channels: str = "first", grid_channels: str | None = None
    ) -> None:
        self.layout = check_choice("layout", layout, ("flat", "image"))
        self.channels = check_choice("channels", channels, ("first", "last"))
        self.source = space
        self._parts = _parts(space)
        bounds = [_leaf_bounds(s) for _, s in self._parts]
        if layout == "flat":
            low = np.concatenate([lo for lo, _ in bounds])
            high = np.concatenate([hi for _, hi in bounds])
            self.space = spaces.Box(low, high, dtype=np.float32)
            return
        grids = [k for k, (_, s) in enumerate(self._parts) if isinstance(s, spaces.Box) and len(s.shape) == 3]
        if len(grids) != 1:
            raise ValueError(f"layout='image' needs exactly one 3-D Box part (the grid); {space!r} has {len(grids)}")
        self._grid = grids[0]
        grid = self._parts[self._grid][1]
        if grid_channels is None:
            grid_channels = "first" if grid.shape[0] <= grid.shape[-1] else "last"
        self._grid_first = check_choice("grid_channels", grid_channels, ("first", "last")) == "first"
        c, h, w = grid.shape if self._grid_first else (grid.shape[2], grid.shape[0], grid.shape[1])
        glow, ghigh = self._chw(grid.low), self._chw(grid.high)
        others = [k for k in range(len(self._parts)) if k != self._grid]
        extra_low = np.concatenate([bounds[k][0] for k in others]) if others else np.zeros(0, np.float32)
        extra_high = np.concatenate([bounds[k][1] for k in others]) if others else np.zeros(0, np.float32)
        planes = len(extra_low)
        low = np.concatenate([glow, np.broadcast_to(extra_low[:, None, None], (planes, h, w))]).astype(np.float32)
        high = np.concatenate([ghigh, np.broadcast_to(extra_high[:, None, None], (planes, h, w))]).astype(np.float32)
        self._others = others
        self._hw = (h, w)
        self.space = spaces.Box(self._out(low), self._out(high), dtype=np.float32)
        del c

    def _chw(self, grid: np.ndarray) -> np.ndarray:
        grid = np.asarray(grid, dtype=np.float32)
        return grid if self._grid_first else np.moveaxis(grid, -1, 0)

    def _out(self, chw: np.ndarray) -> np.ndarray:
        return chw if self.channels == "first" else np.ascontiguousarray(np.moveaxis(chw, 0, -1))

    def __call__(self, obs: Any) -> np.ndarray:
        if self.layout == "flat":
            return np.concatenate([_leaf_values(s, _get(obs, p)) for p, s in self._parts])
        grid = self._chw(_get(obs, self._parts[self._grid][0]))
        if not self._others:
            return self._out(grid)
        extra = np.concatenate([_leaf_values(self._parts[k][1], _get(obs, self._parts[k][0])) for k in self._others])
        planes = np.broadcast_to(extra[:, None, None], (len(extra), *self._hw))
        return self._out(np.concatenate([grid, planes]))


# ---------------------------------------------------------------------- actions
class ActionFlattener:
    """One action space as a ``Discrete`` or a 1-D ``Box``, with :meth:`unflatten` back to the game's move.

    ``Discrete`` stays; a ``Box`` of any shape becomes 1-D (the inverse is a reshape); a ``Dict`` with
    discrete parts becomes one ``Box`` in which every ``Discrete(n)`` (and every entry of a
    ``MultiDiscrete``) is a block of ``n`` scores in ``[0, 1]`` decoded by argmax, and every ``Box`` part
    is its flattened values.

    Args:
        space: the player's action space.
        clip: clip ``Box`` values into the space's bounds before unflattening (for Gaussian policies
            that sample outside them); ``False`` passes them on, and the game rejects what is out of range.
    """

    def __init__(self, space: spaces.Space, clip: bool = False) -> None:
        self.source = space
        self.clip = bool(clip)
        if isinstance(space, spaces.Discrete):
            self.space = space
            self._blocks: list[tuple[str, str, Any, int]] = []
            return
        blocks, low, high = [], [], []
        for path, leaf in _parts(space):
            if isinstance(leaf, spaces.Discrete):
                blocks.append((path, "discrete", leaf, leaf.n))
                low.append(np.zeros(leaf.n)), high.append(np.ones(leaf.n))
            elif isinstance(leaf, spaces.MultiDiscrete):
                size = int(leaf.nvec.sum())
                blocks.append((path, "multidiscrete", leaf, size))
                low.append(np.zeros(size)), high.append(np.ones(size))
            elif isinstance(leaf, spaces.Box):
                blocks.append((path, "box", leaf, int(np.prod(leaf.shape))))
                low.append(leaf.low.reshape(-1)), high.append(leaf.high.reshape(-1))
            else:
                raise TypeError(f"cannot flatten action space part {path!r}: {leaf!r}")
        self._blocks = blocks
        self.space = spaces.Box(
            np.concatenate(low).astype(np.float32), np.concatenate(high).astype(np.float32), dtype=np.float32
        )

    @property
    def identity(self) -> bool:
        return self.space is self.source

    def unflatten(self, action: Any) -> Any:
        """The game's move from a flat action (of :attr:`space`)."""
        if self.identity:
            return action
        flat = np.asarray(action, dtype=np.float32).reshape(-1)
        if flat.shape != self.space.shape:
            raise ValueError(f"flat action of shape {self.space.shape} expected, got shape {np.shape(action)}")
        if self.clip:
            flat = np.clip(flat, self.space.low, self.space.high)
        out: dict[str, Any] = {}
        start = 0
        for path, kind, leaf, size in self._blocks:
            block = flat[start : start + size]
            start += size
            if kind == "discrete":
                value: Any = int(np.argmax(block))
            elif kind == "multidiscrete":
                cuts = np.cumsum(leaf.nvec)[:-1]
                value = np.array([int(np.argmax(b)) for b in np.split(block, cuts)], dtype=leaf.dtype)
            else:
                value = block.reshape(leaf.shape).astype(leaf.dtype)
            if not path:
                return value
            node = out
            keys = path.split("/")
            for key in keys[:-1]:
                node = node.setdefault(key, {})
            node[keys[-1]] = value
        return out


def _flatteners(
    players: list[str], observation_space, action_space, observations: str, actions: str, clip: bool, channels: str
) -> tuple[dict[str, ObservationFlattener | None], dict[str, ActionFlattener | None]]:
    check_choice("observations", observations, OBSERVATION_LAYOUTS)
    check_choice("actions", actions, ACTION_LAYOUTS)
    obs: dict[str, ObservationFlattener | None] = {}
    for p in players:
        space = observation_space(p)
        if observations == "raw":
            obs[p] = None
        elif observations == "image" and any(isinstance(s, spaces.Box) and len(s.shape) == 3 for _, s in _parts(space)):
            obs[p] = ObservationFlattener(space, "image", channels)
        else:
            obs[p] = ObservationFlattener(space, "flat")
    act = {p: None if actions == "raw" else ActionFlattener(action_space(p), clip) for p in players}
    return obs, act


# ---------------------------------------------------------------------- PettingZoo / Gymnasium wrappers
class FlattenParallelEnv(BaseParallelWrapper):
    """A PettingZoo ParallelEnv with flattened observations and actions (per player).

    Args:
        env: the ParallelEnv (``contract_envs.make("parallel", ...)`` or ``AgentsOnlyParallelEnv``).
        observations: ``"flat"``, ``"image"`` (players with a grid; the others flat) or ``"raw"``.
        actions: ``"flat"`` or ``"raw"``.
        clip_actions: clip continuous actions into their bounds (see :class:`ActionFlattener`).
        channels: image layout, ``"first"`` or ``"last"``.
    """

    def __init__(
        self,
        env,
        observations: str = "flat",
        actions: str = "flat",
        clip_actions: bool = False,
        channels: str = "first",
    ) -> None:
        super().__init__(env)
        self._obs, self._act = _flatteners(
            list(env.possible_agents),
            env.observation_space,
            env.action_space,
            observations,
            actions,
            clip_actions,
            channels,
        )

    def observation_space(self, agent: str) -> spaces.Space:
        f = self._obs[agent]
        return self.env.observation_space(agent) if f is None else f.space

    def action_space(self, agent: str) -> spaces.Space:
        f = self._act[agent]
        return self.env.action_space(agent) if f is None else f.space

    def _observe(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {p: o if self._obs[p] is None else self._obs[p](o) for p, o in obs.items()}

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, infos = self.env.reset(seed=seed, options=options)
        return self._observe(obs), infos

    def step(self, actions: dict[str, Any]):
        moves = {p: a if self._act.get(p) is None else self._act[p].unflatten(a) for p, a in actions.items()}
        obs, rewards, terms, truncs, infos = self.env.step(moves)
        return self._observe(obs), rewards, terms, truncs, infos

    def state(self) -> np.ndarray:
        return self.env.state()

    @property
    def state_space(self) -> spaces.Space:
        return self.env.state_space


class FlattenGymEnv(gymnasium.Wrapper):
    """A Gymnasium env (a role view) with a flattened observation and action (see :class:`FlattenParallelEnv`)."""

    def __init__(
        self,
        env: gymnasium.Env,
        observations: str = "flat",
        actions: str = "flat",
        clip_actions: bool = False,
        channels: str = "first",
    ) -> None:
        super().__init__(env)
        obs, act = _flatteners(
            ["player"],
            lambda _: env.observation_space,
            lambda _: env.action_space,
            observations,
            actions,
            clip_actions,
            channels,
        )
        self._obs_f, self._act_f = obs["player"], act["player"]
        if self._obs_f is not None:
            self.observation_space = self._obs_f.space
        if self._act_f is not None:
            self.action_space = self._act_f.space

    def _observe(self, obs: Any) -> Any:
        return obs if self._obs_f is None else self._obs_f(obs)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        return self._observe(obs), info

    def step(self, action: Any):
        move = action if self._act_f is None else self._act_f.unflatten(action)
        obs, reward, terminated, truncated, info = self.env.step(move)
        return self._observe(obs), reward, terminated, truncated, info


# ---------------------------------------------------------------------- turn-based view
class TurnBasedEnv:
    """The full game in which only the players whose move counts in a step observe and act.

    ``reset`` and ``step`` return dicts keyed by player like a PettingZoo ParallelEnv, but observations
    and infos hold only the players to move next (:attr:`to_move`), and ``step`` takes exactly their
    moves. Rewards hold every player (each player's share of what was settled in the step, 0 when
    nothing was); terminations and truncations hold every player. When an episode ends, every player
    gets its final observation. Seeding and the rules are the game's (``reset(seed=s)`` reseeds).

    Args:
        env_id: a registered id.
        observations: ``"raw"`` (the game's spaces), ``"flat"`` or ``"image"`` (:class:`ObservationFlattener`).
        actions: ``"raw"`` or ``"flat"`` (:class:`ActionFlattener`).
        clip_actions: clip continuous actions into their bounds before the game checks them.
        channels: image layout, ``"first"`` or ``"last"``.
        **kwargs: the game's arguments.
    """

    def __init__(
        self,
        env_id: str,
        observations: str = "raw",
        actions: str = "raw",
        clip_actions: bool = False,
        channels: str = "first",
        **kwargs: Any,
    ) -> None:
        env_spec = spec(env_id)
        self.env_id = env_spec.id
        self.kwargs = dict(kwargs)
        self.machine: StageMachine = machine_for(env_spec.make_game(num_envs=1, **kwargs), autoreset=False)
        m = self.machine
        self.possible_agents = list(m.possible_agents)
        self._obs, self._act = _flatteners(
            self.possible_agents, m.observation_space, m.action_space, observations, actions, clip_actions, channels
        )
        self.observation_spaces = {
            p: m.observation_space(p) if self._obs[p] is None else self._obs[p].space for p in self.possible_agents
        }
        self.action_spaces = {
            p: m.action_space(p) if self._act[p] is None else self._act[p].space for p in self.possible_agents
        }
        self.metadata = {"name": f"{env_spec.name}_turn_based", "render_modes": ["ansi"]}
        self.to_move: list[str] = []
        self._pending: dict[str, Any] = {}
        self._started = False
        self._ended = False
        self.rounds = 0

    def observation_space(self, player: str) -> spaces.Space:
        return self.observation_spaces[player]

    def action_space(self, player: str) -> spaces.Space:
        return self.action_spaces[player]

    def _next_movers(self) -> list[str]:
        m = self.machine
        return [p for p in m.stage_movers[m.stage] if p not in self._pending]

    def _observe(self, players: list[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        obs, infos = self.machine.observe_at(0), self.machine.infos(0)
        out_obs = {p: obs[p] if self._obs[p] is None else self._obs[p](obs[p]) for p in players}
        out_infos = {p: {k: v for k, v in infos[p].items() if k != "acting"} for p in players}
        return out_obs, out_infos

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.machine.reset(seed=seed)
        self._pending, self._started, self._ended, self.rounds = {}, True, False, 0
        self.to_move = self._next_movers()
        return self._observe(self.to_move)

    def step(self, actions: Mapping[str, Any]):
        if not self._started:
            raise RuntimeError("step() before reset(): call reset() to start an episode")
        if self._ended:
            raise RuntimeError("the episode has ended (terminated or truncated): call reset() before step()")
        given, expected = set(actions), set(self.to_move)
        if given != expected:
            missing, extra = sorted(expected - given), sorted(given - expected, key=str)
            raise ValueError(
                f"step() takes the moves of exactly the players to move {self.to_move}; "
                f"missing {missing}, not to move now {extra}"
            )
        m = self.machine
        moves = {p: actions[p] if self._act[p] is None else self._act[p].unflatten(actions[p]) for p in self.to_move}
        for p in self.to_move:
            m.check_turn(p, moves[p])  # a bad move raises here, before anything changes
        self._pending.update(moves)
        rewards = np.zeros(len(self.possible_agents))
        terminated = truncated = False
        while all(p in self._pending for p in m.stage_movers[m.stage]):
            stage_moves = {p: self._pending[p] for p in m.stage_movers[m.stage]}
            r, term, trunc, settled = m.advance(stage_moves)
            rewards += r[0]
            if settled:
                self._pending = {}
                self.rounds += 1
                terminated, truncated = bool(term[0]), bool(trunc[0])
                break
        self._ended = terminated or truncated
        self.to_move = list(self.possible_agents) if self._ended else self._next_movers()
        obs, infos = self._observe(self.to_move)
        if self._ended:
            self.to_move = []
        players = self.possible_agents
        return (
            obs,
            dict(zip(players, rewards.tolist(), strict=True)),
            dict.fromkeys(players, terminated),
            dict.fromkeys(players, truncated),
            infos,
        )

    def state(self) -> np.ndarray:
        return self.machine.global_state()[0]

    def render(self) -> str:
        return self.machine.render_ansi(0)

    def close(self) -> None:
        pass


class SingleAgentGymEnv(gymnasium.Env):
    """The one agent of a game as a Gymnasium env: the agents-only view of a single-agent game, with the
    principal's offers from ``principal_policy`` (``None``: no contracts, so the agent faces its own
    rewards alone). One ``step`` is one round; infos carry the ledger.

    Args:
        env_id: a registered id whose game has one agent.
        principal_policy: the offers (see :class:`~contract_envs.views.AgentsOnlyParallelEnv`).
        render_mode: ``"ansi"``, ``"rgb_array"`` (games that draw) or ``None``.
        **kwargs: the game's arguments.
    """

    def __init__(self, env_id: str, principal_policy: Any = None, render_mode: str | None = None, **kwargs: Any):
        from contract_envs.adapters.views import AgentsOnlyParallelEnv

        self.env = AgentsOnlyParallelEnv(env_id, principal_policy=principal_policy, render_mode=render_mode, **kwargs)
        if len(self.env.possible_agents) != 1:
            raise ValueError(
                f"{env_id} has {len(self.env.possible_agents)} agents {self.env.possible_agents}; a single-agent view "
                "needs a game with one (use AgentsOnlyParallelEnv for several)"
            )
        self.player = self.env.possible_agents[0]
        self.observation_space = self.env.observation_space(self.player)
        self.action_space = self.env.action_space(self.player)
        self.render_mode = render_mode
        self.metadata = {
            "render_modes": self.env.metadata["render_modes"],
            "render_fps": self.env.metadata["render_fps"],
        }

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, infos = self.env.reset(seed=seed, options=options)
        return obs[self.player], infos[self.player]

    def step(self, action: Any):
        obs, rewards, terms, truncs, infos = self.env.step({self.player: action})
        p = self.player
        return obs[p], rewards[p], terms[p], truncs[p], infos[p]

    def render(self) -> Any:
        return self.env.render()


def group_map(env) -> dict[str, list[str]]:
    """Players grouped for libraries that stack a group's specs (TorchRL, BenchMARL): by role prefix
    (``principal``, ``agent``, ``node``) when the role's players share their spaces, else one group each."""
    groups: dict[str, list[str]] = {}
    for p in env.possible_agents:
        groups.setdefault(p.rsplit("_", 1)[0], []).append(p)
    out: dict[str, list[str]] = {}
    for role, players in groups.items():
        first = players[0]
        same = all(
            env.observation_space(p) == env.observation_space(first) and env.action_space(p) == env.action_space(first)
            for p in players
        )
        if same:
            out[role] = players
        else:
            out.update({p: [p] for p in players})
    return out


__all__ = [
    "ACTION_LAYOUTS",
    "OBSERVATION_LAYOUTS",
    "ActionFlattener",
    "FlattenGymEnv",
    "FlattenParallelEnv",
    "ObservationFlattener",
    "SingleAgentGymEnv",
    "TurnBasedEnv",
    "group_map",
]
