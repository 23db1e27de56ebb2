"""Role views: one side of a contract game with the other side's policy plugged in.

Generic over every environment of the suite (they all run on a :class:`ContractGame`):

* :class:`AgentsOnlyParallelEnv` - a PettingZoo ParallelEnv of the agents alone; a principal
  policy (callable on the principal's observation, returning the contracts) is applied each round
  before the agents act (``None``: no contracts). Every agent has the same spaces, so SuperSuit's
  ``pettingzoo_env_to_vec_env_v1`` / ``concat_vec_envs_v1`` work on it.
* :class:`PrincipalGymEnv` - a Gymnasium env of the principal; its action is the contract offer,
  its reward the principal's utility; the agents' policies are plugged in.

Both keep the ledger in ``infos`` and run one *round* per ``step``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium
import numpy as np
from gymnasium import spaces
from gymnasium.utils import EzPickle
from pettingzoo import ParallelEnv

from contract_envs.contracts import PRINCIPAL
from contract_envs.core import OFFER, VectorContractEnv
from contract_envs.pettingzoo_api import _scalar_obs
from contract_envs.registration import game_factory

PrincipalPolicy = Callable[[Any], Any]
AgentPolicy = Callable[[Any], int]


def _one(x: Any) -> Any:
    return _scalar_obs(x)


class AgentsOnlyParallelEnv(ParallelEnv, EzPickle):
    """The agents' game with a fixed principal policy (one Parallel step = one round).

    Args:
        env_id: a registered id, e.g. ``"contract_envs/coin_game-v0"``.
        principal_policy: callable mapping the principal's observation to its offer (shape of the
            principal's action space); ``None`` offers all-zero contracts.
        max_cycles: rounds before truncation (default: the game's horizon).
        render_mode: as the underlying environment.
        **kwargs: environment arguments.
    """

    metadata = {"name": "agents_only_v0", "render_modes": ["ansi"], "is_parallelizable": True, "render_fps": 2}

    def __init__(
        self, env_id: str, principal_policy: PrincipalPolicy | None = None, max_cycles: int | None = None,
        render_mode: str | None = None, **kwargs: Any,
    ) -> None:
        EzPickle.__init__(self, env_id, principal_policy, max_cycles, render_mode, **kwargs)
        self.game = game_factory(env_id)(num_envs=1, **kwargs)
        self.vec = VectorContractEnv(self.game, autoreset=False)
        self.principal_policy = principal_policy
        self.possible_agents = list(self.vec.agents)
        self.agents: list[str] = []
        self.render_mode = render_mode
        self.max_cycles = max_cycles if max_cycles is not None else self.game.horizon
        self.state_space = self.game.state_space
        self.metadata = dict(self.metadata, name=f"{self.game.name}_agents_only_v0")
        self._rounds = 0
        self._obs: dict[str, Any] = {}

    @functools.cache  # noqa: B019
    def observation_space(self, agent: str) -> spaces.Space:
        return self.vec.observation_space(agent)

    @functools.cache  # noqa: B019
    def action_space(self, agent: str) -> spaces.Space:
        return self.vec.action_space(agent)

    def _offer(self) -> np.ndarray:
        terms = self.game.terms
        if terms is None:
            return None
        if self.principal_policy is None:
            return np.zeros(terms.shape, dtype=np.float32)
        return self.principal_policy(_one(self.vec._observe()[PRINCIPAL]))

    def _advance_to_act(self, obs: dict) -> dict:
        """Run the offer stage (if the game has one) and return observations for acting."""
        if self.vec.two_stage and self.vec.stage == OFFER:
            obs, *_ = self.vec.step({PRINCIPAL: self._offer()})
        return obs

    def reset(self, seed: int | None = None, options: dict | None = None):
        obs, infos = self.vec.reset(seed=seed)
        obs = self._advance_to_act(obs)
        self.agents = list(self.possible_agents)
        self._rounds = 0
        # the ledger's keys from reset on (stable info specs), as in step
        out_infos = {a: {k: float(v[0]) for k, v in infos[a].items() if k != "acting"} for a in self.agents}
        return {a: _one(obs[a]) for a in self.agents}, out_infos

    def step(self, actions: dict[str, Any]):
        if not self.agents:
            if not actions:
                return {}, {}, {}, {}, {}
            raise RuntimeError("the episode has ended: call reset() before step()")
        joint = dict(actions)
        if self.game.has_principal and self.game.simultaneous:
            joint[PRINCIPAL] = self._offer()
        obs, rewards, terms, truncs, infos = self.vec.step(joint)
        self._rounds += 1
        terminated = bool(terms[self.agents[0]][0])
        truncated = bool(truncs[self.agents[0]][0]) or (
            self.max_cycles is not None and self._rounds >= self.max_cycles and not terminated
        )
        if not (terminated or truncated):
            obs = self._advance_to_act(obs)
        players = self.agents
        out = (
            {a: _one(obs[a]) for a in players},
            {a: float(rewards[a][0]) for a in players},
            dict.fromkeys(players, terminated),
            dict.fromkeys(players, truncated),
            {a: {k: float(v[0]) for k, v in infos[a].items() if k != "acting"} for a in players},
        )
        if terminated or truncated:
            self.agents = []
        return out

    def state(self) -> np.ndarray:
        return self.vec.state()[0]

    def render(self) -> Any:
        if self.render_mode is None:
            return None
        return self.game.render_ansi(0)

    def close(self) -> None:
        pass


class PrincipalGymEnv(gymnasium.Env, EzPickle):
    """The principal's problem as a Gymnasium env (one ``step`` = one round).

    Args:
        env_id: a registered id.
        agent_policy: callable ``(agent_id, observation) -> action`` applied to every agent, or a
            mapping ``agent_id -> callable(observation) -> action``. For games where agents act
            after seeing the contract, the observation carries it.
        render_mode: ``"ansi"`` or ``None``.
        **kwargs: environment arguments.
    """

    metadata = {"render_modes": ["ansi"], "render_fps": 2}

    def __init__(
        self, env_id: str, agent_policy: Callable[[str, Any], int] | Mapping[str, AgentPolicy],
        render_mode: str | None = None, **kwargs: Any,
    ) -> None:
        EzPickle.__init__(self, env_id, agent_policy, render_mode, **kwargs)
        self.game = game_factory(env_id)(num_envs=1, **kwargs)
        if not self.game.has_principal:
            raise ValueError(f"{env_id} was built without a principal; the principal view needs one")
        self.vec = VectorContractEnv(self.game, autoreset=False)
        if isinstance(agent_policy, Mapping):
            missing = set(self.vec.agents) - set(agent_policy)
            if missing:
                raise ValueError(f"agent_policy has no policy for {sorted(missing)}")
            self._policy = lambda agent, obs: agent_policy[agent](obs)
        elif callable(agent_policy):
            self._policy = agent_policy
        else:
            raise ValueError("agent_policy must be a callable (agent_id, obs) -> action or a mapping of callables")
        self.observation_space = self.game.principal_observation_space
        self.action_space = self.game.terms.principal_action_space()
        self.render_mode = render_mode
        self._last_obs: dict[str, Any] = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        obs, infos = self.vec.reset(seed=seed)
        self._last_obs = obs
        return _one(obs[PRINCIPAL]), {k: float(v[0]) for k, v in infos[PRINCIPAL].items() if k != "acting"}

    def _agent_actions(self, obs: dict[str, Any]) -> dict[str, int]:
        return {a: self._policy(a, _one(obs[a])) for a in self.vec.agents}

    def step(self, action: Any):
        if self.vec.two_stage:
            obs, *_ = self.vec.step({PRINCIPAL: action})
            joint = self._agent_actions(obs)
        else:
            joint = self._agent_actions(self._last_obs)
            joint[PRINCIPAL] = action
        obs, rewards, terms, truncs, infos = self.vec.step(joint)
        self._last_obs = obs
        info = {k: float(v[0]) for k, v in infos[PRINCIPAL].items() if k != "acting"}
        return (
            _one(obs[PRINCIPAL]),
            float(rewards[PRINCIPAL][0]),
            bool(terms[PRINCIPAL][0]),
            bool(truncs[PRINCIPAL][0]),
            info,
        )

    def render(self) -> str | None:
        return None if self.render_mode is None else self.game.render_ansi(0)
