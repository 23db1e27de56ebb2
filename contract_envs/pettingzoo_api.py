"""PettingZoo adapters: a ParallelEnv view of a batched core at ``B = 1``, and its AEC form.

The rules live in the environment's :class:`~contract_envs.core.ContractGame`; this module only
converts arrays of one env into PettingZoo's dicts, tracks live players and ``max_cycles``, and
renders. ``max_cycles`` counts PettingZoo cycles, i.e. Parallel ``step`` calls; with the two-stage
round structure one round takes two cycles, so the default is ``2 * horizon``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from contract_envs.core import ContractGame, VectorContractEnv


def _scalar_obs(obs: Any) -> Any:
    if isinstance(obs, dict):
        return {k: v[0] for k, v in obs.items()}
    return obs[0]


class ContractParallelEnv(ParallelEnv, EzPickle):
    """Generic PettingZoo ParallelEnv over one :class:`ContractGame` (subclass per environment).

    Subclasses set ``metadata`` and implement :meth:`make_game`. Constructor keyword arguments
    other than ``max_cycles`` and ``render_mode`` go to :meth:`make_game`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "contract_game_v0",
        "render_modes": ["ansi"],
        "is_parallelizable": True,
        "render_fps": 2,
    }

    @classmethod
    def make_game(cls, num_envs: int, seed: int | None = None, **kwargs: Any) -> ContractGame:
        raise NotImplementedError

    def __init__(self, max_cycles: int | None = None, render_mode: str | None = None, **kwargs: Any):
        EzPickle.__init__(self, max_cycles=max_cycles, render_mode=render_mode, **kwargs)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode={render_mode!r} is not supported; allowed: {self.metadata['render_modes']} or None"
            )
        self.render_mode = render_mode
        self.game = self.make_game(num_envs=1, **kwargs)
        self.vec = VectorContractEnv(self.game, autoreset=False)
        self.possible_agents = list(self.vec.possible_agents)
        self.agents: list[str] = []
        if max_cycles is None:
            horizon = self.game.horizon
            max_cycles = None if horizon is None else self.vec.stages_per_round * horizon
        elif int(max_cycles) < 1:
            raise ValueError(f"max_cycles must be >= 1 or None, got {max_cycles}")
        self.max_cycles = max_cycles
        self.state_space = self.game.state_space
        self._cycles = 0
        self._finished = True

    @functools.cache  # noqa: B019  (PettingZoo asserts space identity)
    def observation_space(self, agent: str) -> spaces.Space:
        return self.vec.observation_space(agent)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return self.vec.action_space(agent)

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, infos = self.vec.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self._cycles = 0
        self._finished = False
        return self._obs(obs), self._infos(infos)

    def step(self, actions: dict[str, Any]):
        if self._finished:
            if not actions:
                return {}, {}, {}, {}, {}
            raise RuntimeError("the episode has ended: call reset() before step()")
        out_obs, out_rew, terminated, truncated, out_info = self.vec.step_single(actions)
        self._cycles += 1
        if not truncated and self.max_cycles is not None and self._cycles >= self.max_cycles and not terminated:
            truncated = True
        players = self.agents
        out_term = dict.fromkeys(players, terminated)
        out_trunc = dict.fromkeys(players, truncated)
        if terminated or truncated:
            self.agents = []
            self._finished = True
        if self.render_mode == "human":
            self.render()
        return out_obs, out_rew, out_term, out_trunc, out_info

    def state(self) -> np.ndarray:
        return self.vec.state()[0]

    def render(self) -> Any:
        if self.render_mode is None:
            import gymnasium

            gymnasium.logger.warn("render() called without a render_mode; pass render_mode='ansi' or 'rgb_array'.")
            return None
        if self.render_mode == "rgb_array":
            return self.game.render_rgb(0)
        text = f"{self.game.render_ansi(0)} | stage: {self.vec.stage}"
        if self.game.has_principal:
            text += f" | contracts: {np.array2string(self.vec.contracts[0], precision=3)}"
        if self.render_mode == "human":
            print(text)
            return None
        return text

    def close(self) -> None:
        pass

    # ----------------------------------------------------------------- helpers
    def _obs(self, obs: dict[str, Any]) -> dict[str, Any]:
        return {p: _scalar_obs(obs[p]) for p in self.agents}

    def _infos(self, infos: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        out = {}
        for p in self.agents:
            out[p] = {k: (float(v.item()) if isinstance(v, np.ndarray) else v) for k, v in infos[p].items()}
        return out


def aec_from_parallel(parallel_cls: Callable[..., ParallelEnv]) -> Callable[..., AECEnv]:
    """AEC factory for a parallel-native environment (PettingZoo's ``parallel_to_aec``).

    In each stage every live player is asked in ``possible_agents`` order (principal first); only
    the actions of players whose ``infos[player]["acting"]`` is true have an effect.
    """

    def env(**kwargs: Any) -> AECEnv:
        return parallel_to_aec(parallel_cls(**kwargs))

    env.__doc__ = f"AEC version of :class:`{parallel_cls.__name__}` (principal moves first each round)."
    return env
