"""Role views: one side of a game with the other side's policies plugged in, generic over every game.

* :class:`AgentsOnlyParallelEnv`: a PettingZoo ParallelEnv of the players who act in the act stage
  (the agents; every node of a tree), one ``step`` per round. The offers (and an incentive
  designer's schedule) come from a plugged-in principal policy; ``None`` offers nothing (all-zero
  contracts). Agents of a flat game share their spaces, so SuperSuit's vectorisation works on it.
* :class:`PrincipalGymEnv`: a Gymnasium env of one player (the principal by default; the root of a
  tree), one ``step`` per round: its move is used in every stage it moves in, the other players'
  moves come from plugged-in policies, its reward is its utility over the round.

Both keep the ledger in ``infos``, check every move like the game itself, raise on ``step`` before
``reset`` or after the episode ended, and pickle mid-episode.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import ParallelEnv

from contract_envs.checks import check_choice, check_optional_int
from contract_envs.contracts import PRINCIPAL
from contract_envs.core.game import HIERARCHICAL
from contract_envs.core.machines import StageMachine, machine_for
from contract_envs.registry import spec

PrincipalPolicy = Callable[..., Any]
AgentPolicy = Callable[[Any], Any]


def _machine(env_id: str, kwargs: dict[str, Any]) -> StageMachine:
    return machine_for(spec(env_id).make_game(num_envs=1, **kwargs), autoreset=False)


def _scalar_infos(infos: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in infos.items() if k != "acting"}


class _View(EzPickle):
    machine: StageMachine
    _view_fields: tuple[str, ...] = ()

    def snapshot(self) -> dict[str, Any]:
        """The full state of the episode (machine and view), for :meth:`restore`."""
        return {
            "machine": self.machine.snapshot(),
            "view": {k: copy.deepcopy(getattr(self, k)) for k in self._view_fields},
        }

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.machine.restore(snapshot["machine"])
        for k, v in snapshot["view"].items():
            setattr(self, k, copy.deepcopy(v))

    def __getstate__(self) -> dict[str, Any]:
        return {"ezpickle": EzPickle.__getstate__(self), "snapshot": self.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        EzPickle.__setstate__(self, state["ezpickle"])
        self.restore(state["snapshot"])

    def _render(self) -> Any:
        if self.render_mode is None:
            return None
        if self.render_mode == "rgb_array":
            return self.machine.render_rgb(0)
        return self.machine.render_ansi(0)


class AgentsOnlyParallelEnv(_View, ParallelEnv):
    """The agents' game with a fixed principal policy (one ``step`` = one round).

    Args:
        env_id: a registered id, e.g. ``"contract_envs/coin_game-v1"``.
        principal_policy: the offers. Flat games: a callable on the principal's observation returning
            its move (shape of its action space). Trees: a callable ``(node_id, observation) -> offer``
            (a dict with the node's ``recommendations``/``transfers`` or ``contracts``) or a mapping
            node id -> callable. ``None``: all-zero offers.
        max_cycles: rounds before truncation (default: the game's horizon).
        render_mode: ``"ansi"``, ``"rgb_array"`` (games that draw) or ``None``.
        **kwargs: the game's arguments.
    """

    _view_fields = ("agents", "_rounds", "_started")

    def __init__(
        self,
        env_id: str,
        principal_policy: PrincipalPolicy | Mapping[str, PrincipalPolicy] | None = None,
        max_cycles: int | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        EzPickle.__init__(self, env_id, principal_policy, max_cycles, render_mode, **kwargs)
        self.machine = m = _machine(env_id, kwargs)
        game = m.game
        self._tree = game.timing == HIERARCHICAL
        act_stage = len(m.stage_names) - 1
        self.possible_agents = [p for p in m.stage_movers[act_stage] if p != PRINCIPAL]
        self.agents: list[str] = []
        self.principal_policy = principal_policy
        self.max_cycles = check_optional_int("max_cycles", max_cycles, 1, owner="AgentsOnlyParallelEnv")
        modes = [r for r in game.render_modes if r != "human"]
        if render_mode is not None:
            check_choice("render_mode", render_mode, modes, owner="AgentsOnlyParallelEnv")
        self.render_mode = render_mode
        self.state_space = m.state_space
        self.metadata = {
            "name": f"{spec(env_id).name}_agents_only",
            "render_modes": modes,
            "is_parallelizable": True,
            "render_fps": game.render_fps,
        }
        self._action_spaces = {p: self._act_space(p) for p in self.possible_agents}
        self._rounds = 0
        self._started = False

    def _act_space(self, player: str) -> spaces.Space:
        space = self.machine.action_space(player)
        if self._tree and isinstance(space, spaces.Dict):  # an inner node acts with its own action only
            return space["action"]
        return space

    def observation_space(self, agent: str) -> spaces.Space:
        return self.machine.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        if agent not in self._action_spaces:
            raise ValueError(f"unknown agent {agent!r}; agents of this view are {self.possible_agents}")
        return self._action_spaces[agent]

    def _policy_move(self, player: str, obs: Any) -> Any:
        policy = self.principal_policy
        if isinstance(policy, Mapping):
            policy = policy.get(player)
        if policy is None:
            return self._zero_offer(player)
        return policy(player, obs) if self._tree and not isinstance(self.principal_policy, Mapping) else policy(obs)

    def _zero_offer(self, player: str) -> Any:
        space = self.machine.action_space(player)
        if isinstance(space, spaces.Dict):
            return {k: np.zeros(s.shape, dtype=s.dtype) for k, s in space.spaces.items() if k != "action"}
        return np.zeros(space.shape, dtype=space.dtype)

    def _run_offers(self) -> None:
        """Play the offer stages of the coming round with the plugged-in policy."""
        m = self.machine
        while m.stage < len(m.stage_names) - 1:
            obs = m.observe_at(0)
            moves = {p: self._policy_move(p, obs[p]) for p in m.stage_movers[m.stage]}
            if self._tree:  # a node's move also holds its own action, which does not count in an offer stage
                moves = {
                    p: {"action": 0, **o} if type(o) is dict and "action" not in o else o for p, o in moves.items()
                }
            m.advance(moves)

    def reset(self, seed: int | None = None, options: dict | None = None):
        m = self.machine
        _, infos = m.reset(seed=seed)
        self._run_offers()
        self.agents = list(self.possible_agents)
        self._rounds = 0
        self._started = True
        obs = m.observe_at(0)
        infos = m.infos(0)
        return {a: obs[a] for a in self.agents}, {a: _scalar_infos(infos[a]) for a in self.agents}

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            if not self._started:
                raise RuntimeError("step() before reset(): call reset() to start an episode")
            raise RuntimeError("the episode has ended (terminated or truncated): call reset() before step()")
        unknown = set(actions) - set(self.possible_agents)
        if unknown:
            raise ValueError(f"unknown agent(s) {sorted(unknown)} in actions; agents are {self.possible_agents}")
        m = self.machine
        for a in self.possible_agents:
            space = self._action_spaces[a]
            if self._tree and a in actions and not isinstance(space, spaces.Dict) and type(actions[a]) is dict:
                raise ValueError(f"{a}: in the agents-only view a node's action is an int in [0, {space.n - 1}]")
        joint = dict(actions)
        if PRINCIPAL in m.stage_movers[m.stage]:  # an incentive designer moves with the agents
            joint[PRINCIPAL] = self._policy_move(PRINCIPAL, m.observe_at(0)[PRINCIPAL])
        rewards, term, trunc, _ = m.advance(joint)
        self._rounds += 1
        terminated = bool(term[0])
        truncated = bool(trunc[0]) or (
            self.max_cycles is not None and self._rounds >= self.max_cycles and not terminated
        )
        infos = m.infos(0)
        if not (terminated or truncated):
            self._run_offers()
        obs = m.observe_at(0)
        columns = {p: j for j, p in enumerate(m.possible_agents)}
        players = self.agents
        out = (
            {a: obs[a] for a in players},
            {a: float(rewards[0, columns[a]]) for a in players},
            dict.fromkeys(players, terminated),
            dict.fromkeys(players, truncated),
            {a: _scalar_infos(infos[a]) for a in players},
        )
        if terminated or truncated:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        return self.machine.global_state()[0]

    def render(self) -> Any:
        return self._render()

    def close(self) -> None:
        pass


class PrincipalGymEnv(_View, gymnasium.Env):
    """One player's problem as a Gymnasium env (one ``step`` = one round).

    Args:
        env_id: a registered id.
        agent_policy: the other players' moves: a callable ``(player_id, observation) -> action`` or a
            mapping ``player_id -> callable(observation) -> action``; ``None``: the game's reference
            policy (``Game.default_policy``, e.g. a best-responding agent), where it has one. In
            sequential games the agents' observations carry the contract offered this round.
        player: the learning player (default: ``principal_0``, or the root ``node_0`` of a tree).
        render_mode: ``"ansi"``, ``"rgb_array"`` (games that draw) or ``None``.
        **kwargs: the game's arguments.
    """

    _view_fields = ("_started", "_ended")

    def __init__(
        self,
        env_id: str,
        agent_policy: Callable[[str, Any], Any] | Mapping[str, AgentPolicy] | None = None,
        player: str | None = None,
        render_mode: str | None = None,
        **kwargs: Any,
    ) -> None:
        EzPickle.__init__(self, env_id, agent_policy, player, render_mode, **kwargs)
        self.machine = m = _machine(env_id, kwargs)
        if player is None:
            player = m.possible_agents[0]
            if player != PRINCIPAL and m.game.timing != HIERARCHICAL:
                raise ValueError(f"{env_id} was built without a principal; name the learning player with player=")
        check_choice("player", player, m.possible_agents, owner="PrincipalGymEnv")
        self.player = player
        others = [p for p in m.possible_agents if p != player]
        if agent_policy is None:
            agent_policy = m.game.default_policy()
            if agent_policy is None:
                raise ValueError(f"{env_id} has no reference policy for {others}: pass agent_policy=")
        if isinstance(agent_policy, Mapping):
            missing = sorted(set(others) - set(agent_policy))
            if missing:
                raise ValueError(f"agent_policy has no policy for {missing}")
            self._policy = lambda p, obs: agent_policy[p](obs)
        elif callable(agent_policy):
            self._policy = agent_policy
        else:
            raise ValueError("agent_policy must be a callable (player_id, obs) -> action or a mapping of callables")
        self.observation_space = m.observation_space(player)
        self.action_space = m.action_space(player)
        modes = [r for r in m.game.render_modes if r != "human"]
        if render_mode is not None:
            check_choice("render_mode", render_mode, modes, owner="PrincipalGymEnv")
        self.render_mode = render_mode
        self.metadata = {"render_modes": modes, "render_fps": m.game.render_fps}
        self._column = m.possible_agents.index(player)
        self._started = False
        self._ended = False

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        m = self.machine
        m.reset(seed=seed)
        self._started, self._ended = True, False
        return m.observe_at(0)[self.player], _scalar_infos(m.infos(0)[self.player])

    def step(self, action: Any):
        if not self._started:
            raise RuntimeError("step() before reset(): call reset() to start an episode")
        if self._ended:
            raise RuntimeError("the episode has ended (terminated or truncated): call reset() before step()")
        m = self.machine
        m.check_turn(self.player, action)  # a bad move raises before any stage of the round is played
        reward = 0.0
        while True:
            obs = m.observe_at(0)
            moves = {p: action if p == self.player else self._policy(p, obs[p]) for p in m.stage_movers[m.stage]}
            rewards, term, trunc, settled = m.advance(moves)
            reward += float(rewards[0, self._column])
            if settled:
                break
        terminated, truncated = bool(term[0]), bool(trunc[0])
        self._ended = terminated or truncated
        return m.observe_at(0)[self.player], reward, terminated, truncated, _scalar_infos(m.infos(0)[self.player])

    def render(self) -> Any:
        return self._render()


__all__ = ["AgentsOnlyParallelEnv", "PrincipalGymEnv"]
