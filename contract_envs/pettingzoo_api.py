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

from contract_envs.contracts import PRINCIPAL
from contract_envs.core import ACT, ContractGame, VectorContractEnv


def vector_env_for(game: Any, autoreset: bool) -> Any:
    """The batched API of a game: :class:`VectorContractEnv`, unless the game names its own
    stage machine in ``vector_env_class`` (e.g. games with several principals)."""
    return getattr(game, "vector_env_class", VectorContractEnv)(game, autoreset=autoreset)


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
        self.vec = vector_env_for(self.game, autoreset=False)
        self.possible_agents = list(self.vec.possible_agents)
        self._agent_index = {a: i for i, a in enumerate(self.vec.agents)}
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
        obs, _ = self.vec.reset(seed=seed)
        self.agents = list(self.possible_agents)
        self._cycles = 0
        self._finished = False
        return self._obs(obs), self._infos()

    def step(self, actions: dict[str, Any]):
        if self._finished:
            if not actions:
                return {}, {}, {}, {}, {}
            raise RuntimeError("the episode has ended: call reset() before step()")
        obs, rewards, terms, truncs, _ = self.vec.step_arrays(actions)
        self._cycles += 1
        terminated = bool(terms[self.agents[0]][0])
        truncated = bool(truncs[self.agents[0]][0]) or (
            self.max_cycles is not None and self._cycles >= self.max_cycles and not terminated
        )
        players = self.agents
        out_obs = {p: _scalar_obs(obs[p]) for p in players}
        out_rew = {p: float(rewards[p][0]) for p in players}
        out_term = dict.fromkeys(players, terminated)
        out_trunc = dict.fromkeys(players, truncated)
        out_info = self._infos()
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

    def _infos(self) -> dict[str, dict[str, Any]]:
        """Scalar infos of the live players straight from the ledger (keys stable from reset),
        plus the game's own numeric infos (:meth:`ContractGame.extra_infos`)."""
        vec, ledger = self.vec, self.vec.ledger
        agents_act = vec.stage == ACT
        extra = self.game.extra_infos()
        out = {}
        for p in self.agents:
            if p == PRINCIPAL:
                info = dict(zip(ledger.principal_info_keys, ledger.principal[0].tolist(), strict=True))
                info["acting"] = not agents_act or self.game.simultaneous
            else:
                info = dict(zip(ledger.agent_info_keys, ledger.agent[0, self._agent_index[p]].tolist(), strict=True))
                info["acting"] = agents_act
            if p in extra:
                info.update({k: float(v[0]) for k, v in extra[p].items()})
            out[p] = info
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
