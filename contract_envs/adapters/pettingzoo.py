"""PettingZoo adapters, generic over every registered game: a ParallelEnv and a native AECEnv.

Both are views of a :class:`~contract_envs.core.machines.StageMachine` at ``B = 1``; the rules,
validation, money and infos live there.

* :class:`ParallelContractEnv`: one ``step`` = one stage of a round (sequential contract games:
  an offer step, then an act step; incentive games: one step per round). ``infos[p]["acting"]``
  says whose move counts in the coming step; every move given is checked, counted or not.
  ``max_cycles`` counts ``step`` calls (PettingZoo's meaning for a Parallel env).
* :class:`AECContractEnv`: ``agent_selection`` visits each player once per round, in the order of
  ``machine.turns``: the principal, then each agent (sequential contracts: the offer takes effect
  at once, so each agent sees its contract at its turn; incentive games: the designer's schedule is
  held until the last agent has moved, so no agent sees it); trees: every node in breadth-first
  order, its offer and its own action in one move. A bad move raises at the turn that made it and
  leaves the environment as it was. ``max_cycles`` counts rounds.

Pickling and deepcopy keep the whole episode (the machine's snapshot plus the adapter's own turn
state), so a copy continues exactly as the original would.
"""

from __future__ import annotations

import copy
import types
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv, ParallelEnv

from contract_envs.checks import check_choice, check_optional_int
from contract_envs.core.machines import StageMachine, machine_for
from contract_envs.registry import spec


def _machine(env_id: str, kwargs: dict[str, Any]) -> tuple[StageMachine, dict[str, Any]]:
    env_spec = spec(env_id)
    game = env_spec.make_game(num_envs=1, **kwargs)
    metadata = {
        "name": f"{env_spec.name}_v{env_spec.version}",
        "render_modes": list(game.render_modes),
        "is_parallelizable": True,
        "render_fps": game.render_fps,
    }
    return machine_for(game, autoreset=False), metadata


class _Adapter(EzPickle):
    """What both adapters share: construction from an id, spaces, state, rendering, pickling."""

    machine: StageMachine
    _adapter_fields: tuple[str, ...] = ()

    def _setup(self, env_id: str, max_cycles: int | None, render_mode: str | None, kwargs: dict[str, Any]) -> None:
        EzPickle.__init__(self, env_id, max_cycles=max_cycles, render_mode=render_mode, **kwargs)
        self.machine, self.metadata = _machine(env_id, kwargs)
        self.env_id = spec(env_id).id
        if render_mode is not None:
            check_choice("render_mode", render_mode, self.metadata["render_modes"], owner=self.metadata["name"])
        self.render_mode = render_mode
        self.max_cycles = check_optional_int("max_cycles", max_cycles, 1, owner=self.metadata["name"])
        self.possible_agents = list(self.machine.possible_agents)
        self.agents: list[str] = []
        self.state_space = self.machine.state_space
        self._started = False

    def observation_space(self, agent: str) -> spaces.Space:
        return self.machine.observation_space(agent)

    def action_space(self, agent: str) -> spaces.Space:
        return self.machine.action_space(agent)

    def state(self) -> np.ndarray:
        if not self._started:
            raise RuntimeError("state() before reset(): call reset() to start an episode")
        return self.machine.global_state()[0]

    def render(self) -> Any:
        if self.render_mode is None:
            gymnasium.logger.warn(
                f"render() called without a render_mode; pass render_mode= one of {self.metadata['render_modes']}"
            )
            return None
        if not self._started:
            raise RuntimeError("render() before reset(): call reset() to start an episode")
        if self.render_mode == "rgb_array":
            return self.machine.render_rgb(0)
        text = self.machine.render_ansi(0)
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    def snapshot(self) -> dict[str, Any]:
        """The full state of the episode (machine and adapter), for :meth:`restore`."""
        fields = {k: _copy(getattr(self, k)) for k in ("agents", "_started", *self._adapter_fields)}
        return {"machine": self.machine.snapshot(), "adapter": fields}

    def restore(self, snapshot: dict[str, Any]) -> None:
        self.machine.restore(snapshot["machine"])
        for k, v in snapshot["adapter"].items():
            setattr(self, k, _copy(v))

    def __getstate__(self) -> dict[str, Any]:
        return {"ezpickle": EzPickle.__getstate__(self), "snapshot": self.snapshot()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        EzPickle.__setstate__(self, state["ezpickle"])
        self.restore(state["snapshot"])


def _copy(value: Any) -> Any:
    return copy.deepcopy(value)


class ParallelContractEnv(_Adapter, ParallelEnv):
    """PettingZoo ParallelEnv of a registered game (see the module docstring).

    Args:
        env_id: a registered id, e.g. ``"contract_envs/coin_game-v1"``.
        max_cycles: ``step`` calls before truncation (``None``: the game's ``horizon`` ends episodes).
        render_mode: one of the game's render modes or ``None``.
        **kwargs: the game's arguments (its documentation page lists them).
    """

    _adapter_fields = ("_cycles",)

    def __init__(self, env_id: str, max_cycles: int | None = None, render_mode: str | None = None, **kwargs: Any):
        self._setup(env_id, max_cycles, render_mode, kwargs)
        self._cycles = 0

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.machine.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self._cycles = 0
        self._started = True
        return self.machine.observe_at(0), self.machine.infos(0)

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            if not self._started:
                raise RuntimeError("step() before reset(): call reset() to start an episode")
            raise RuntimeError("the episode has ended (terminated or truncated): call reset() before step()")
        machine = self.machine
        rewards, term, trunc, _ = machine.advance(actions)
        self._cycles += 1
        terminated = bool(term[0])
        truncated = bool(trunc[0]) or (
            self.max_cycles is not None and self._cycles >= self.max_cycles and not terminated
        )
        players = self.agents
        out = (
            machine.observe_at(0),
            dict(zip(players, rewards[0].tolist(), strict=True)),
            dict.fromkeys(players, terminated),
            dict.fromkeys(players, truncated),
            machine.infos(0),
        )
        if terminated or truncated:
            self.agents = []
        if self.render_mode == "human":
            self.render()
        return out


class AECContractEnv(_Adapter, AECEnv):
    """Native PettingZoo AECEnv of a registered game (see the module docstring).

    Args:
        env_id: a registered id.
        max_cycles: rounds before truncation (``None``: the game's ``horizon`` ends episodes).
        render_mode: one of the game's render modes or ``None``.
        **kwargs: the game's arguments.
    """

    _adapter_fields = (
        "rewards",
        "_cumulative_rewards",
        "terminations",
        "truncations",
        "infos",
        "agent_selection",
        "_turn",
        "_rounds",
        "_pending",
        "_skip_agent_selection",
        "_observations",
    )

    def __init__(self, env_id: str, max_cycles: int | None = None, render_mode: str | None = None, **kwargs: Any):
        AECEnv.__init__(self)
        self._setup(env_id, max_cycles, render_mode, kwargs)
        self._turns = self.machine.turns
        self.rewards: dict[str, float] = {}
        self._cumulative_rewards: dict[str, float] = {}
        self.terminations: dict[str, bool] = {}
        self.truncations: dict[str, bool] = {}
        self.infos: dict[str, dict[str, Any]] = {}
        self.agent_selection = self._turns[0]
        self._skip_agent_selection = None
        self._turn = 0
        self._rounds = 0
        self._pending: dict[str, Any] = {}
        self._observations: dict[str, Any] | None = None

    def reset(self, seed: int | None = None, options: dict | None = None) -> None:
        self.machine.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos = self.machine.infos(0)
        self._turn, self._rounds, self._pending = 0, 0, {}
        self._skip_agent_selection = None
        self.agent_selection = self._turns[0]
        self._observations = None
        self._started = True

    def observe(self, agent: str) -> Any:
        if not self._started:
            raise RuntimeError("observe() before reset(): call reset() to start an episode")
        if self._observations is None:
            self._observations = self.machine.observe_at(0)
        return self._observations[agent]

    def step(self, action: Any) -> None:
        if not self._started:
            raise RuntimeError("step() before reset(): call reset() to start an episode")
        agent = self.agent_selection
        if not self.agents:
            raise RuntimeError("the episode has ended (terminated or truncated): call reset() before step()")
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        machine = self.machine
        machine.check_turn(agent, action)  # a bad move raises here, before anything changes
        self._cumulative_rewards[agent] = 0.0
        self._pending[agent] = action
        self._turn += 1
        self._clear_rewards()
        done = False
        while all(p in self._pending for p in machine.stage_movers[machine.stage]):  # run every stage now complete
            movers = machine.stage_movers[machine.stage]
            rewards, term, trunc, settled = machine.advance({p: self._pending[p] for p in movers})
            self._observations = None
            if settled:
                self.rewards = dict(zip(self.possible_agents, rewards[0].tolist(), strict=True))
                self._rounds += 1
                self._pending, self._turn = {}, 0
                terminated = bool(term[0])
                truncated = bool(trunc[0]) or (
                    self.max_cycles is not None and self._rounds >= self.max_cycles and not terminated
                )
                if terminated or truncated:
                    self.terminations = dict.fromkeys(self.agents, terminated)
                    self.truncations = dict.fromkeys(self.agents, truncated)
                    done = True
                break
        self.infos = machine.infos(0)
        self.agent_selection = self._turns[self._turn]
        self._accumulate_rewards()
        if done:
            self._deads_step_first()
        if self.render_mode == "human":
            self.render()


def make(env_type: str, env_id: str, **kwargs: Any) -> ParallelContractEnv | AECContractEnv:
    """Create an environment: ``make("parallel" | "aec", "contract_envs/<name>-v1", **kwargs)``."""
    check_choice("env_type", env_type, ("aec", "parallel"))
    cls = ParallelContractEnv if env_type == "parallel" else AECContractEnv
    return cls(spec(env_id).id, **kwargs)


def versioned_module(name: str) -> types.ModuleType:
    """A module ``<name>_v<N>`` with PettingZoo's ``env``, ``raw_env`` and ``parallel_env`` creators."""
    env_spec = spec(name)
    module = types.ModuleType(f"contract_envs.envs.{env_spec.name}_v{env_spec.version}", env_spec.rules.__doc__)

    def parallel_env(**kwargs: Any) -> ParallelContractEnv:
        return ParallelContractEnv(env_spec.id, **kwargs)

    def env(**kwargs: Any) -> AECContractEnv:
        return AECContractEnv(env_spec.id, **kwargs)

    module.parallel_env, module.env, module.raw_env = parallel_env, env, env
    return module


__all__ = ["AECContractEnv", "ParallelContractEnv", "make", "versioned_module"]
