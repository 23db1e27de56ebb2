"""Batched core of every environment, and the stage machine that turns it into a game API.

An environment supplies a :class:`ContractGame`: its base game's dynamics written once, as array
code over a batch of ``B`` environments (struct of arrays). :class:`VectorContractEnv` adds what
all environments share: the round structure, validation, settlement through the contract layer,
the ledger, auto-reset, and the dict-of-arrays API keyed by player. The PettingZoo and Gymnasium
adapters are thin views of a ``VectorContractEnv`` with ``B = 1``.

Round structure (Principal-Agent RL timing, ``ContractGame.simultaneous = False``): each round has
two stages. In the *offer* stage the principal observes the state and offers one contract per
agent; agents' actions are ignored. In the *act* stage every agent observes the state and its own
contract and acts; the principal's action is ignored; outcomes are drawn, payments settled and the
state moves on. ``infos[player]["acting"]`` says whose action counts in the coming step.

Incentive-design timing (``simultaneous = True``): one stage per round. The designer's action is a
payment schedule over the agents' actions (outcome = action), chosen at the same time as the agents
act and settled right after; agents do not observe it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import (
    AGENT_LEDGER_KEYS,
    PRINCIPAL,
    PRINCIPAL_LEDGER_KEYS,
    ContractTerms,
    Ledger,
    Settlement,
    agent_ids,
    settle,
    validate_actions,
)
from contract_envs.rng import BatchedStreams

OFFER, ACT = "offer", "act"
_AGENT_INFO_KEYS = (*AGENT_LEDGER_KEYS, *(f"episode_{k}" for k in AGENT_LEDGER_KEYS))
_PRINCIPAL_INFO_KEYS = (*PRINCIPAL_LEDGER_KEYS, *(f"episode_{k}" for k in PRINCIPAL_LEDGER_KEYS))


@dataclass
class Transition:
    """What the base game returns for one act stage (leading axis B)."""

    agent_own: np.ndarray  # [B, N] float: agents' own rewards r(s, a)
    principal_own: np.ndarray  # [B] float: principal's own reward r_p(s, o)
    outcomes: np.ndarray  # [B, N] int: outcome index each agent's contract is settled on
    terminated: np.ndarray  # [B] bool: reached an absorbing state


class ContractGame(ABC):
    """Rules of one principal-agent game over a batch of ``num_envs`` environments.

    Subclasses set the single-env spaces ``principal_observation_space``,
    ``agent_observation_space`` and ``state_space`` and implement ``_reset``, ``_step`` and the
    observation functions. ``horizon`` counts rounds; reaching it truncates an episode.
    """

    name: str = "contract_game"
    simultaneous: bool = False
    principal_in_welfare: bool = True
    reward_sharing: float = 0.0  # proportion p of the agents' rewards shared (settled as ledger transfers)

    principal_observation_space: spaces.Space
    agent_observation_space: spaces.Space
    state_space: spaces.Space

    def __init__(
        self,
        num_envs: int,
        n_agents: int,
        n_actions: int,
        terms: ContractTerms | None,
        horizon: int | None,
        seed: int | None = None,
    ) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs}")
        if horizon is not None and int(horizon) < 1:
            raise ValueError(f"horizon (rounds per episode) must be >= 1 or None, got {horizon}")
        self.num_envs, self.n_agents, self.n_actions = int(num_envs), int(n_agents), int(n_actions)
        self.terms, self.horizon = terms, (None if horizon is None else int(horizon))
        self.rng = BatchedStreams.from_seed(seed, self.num_envs)
        self.t = np.zeros(self.num_envs, dtype=np.int64)
        self.all_envs = np.arange(self.num_envs)

    @property
    def has_principal(self) -> bool:
        return self.terms is not None

    def reset(self, seed: int | None = None, env_idx: np.ndarray | None = None) -> None:
        """Start new episodes (all envs, or ``env_idx``); a seed reseeds every env's stream."""
        if seed is not None:
            if env_idx is not None:
                raise ValueError("a seed reseeds the whole batch; pass env_idx=None with a seed")
            self.rng.reseed(seed)
        idx = self.all_envs if env_idx is None else np.asarray(env_idx)
        self.t[idx] = 0
        self._reset(idx)

    def step(self, actions: np.ndarray) -> tuple[Transition, np.ndarray]:
        """Advance every env one round with validated actions ``[B, N]``; returns (transition, truncated)."""
        tr = self._step(actions)
        self.t += 1
        if self.horizon is None:
            truncated = np.zeros(self.num_envs, dtype=bool)
        else:
            truncated = self.t >= self.horizon
            if tr.terminated.any():
                truncated &= ~tr.terminated
        return tr, truncated

    @abstractmethod
    def _reset(self, env_idx: np.ndarray) -> None:
        """Draw initial states for ``env_idx`` (use ``self.rng`` with ``env_idx``)."""

    @abstractmethod
    def _step(self, actions: np.ndarray) -> Transition:
        """Apply the agents' actions ``[B, N]`` to every env and return the transition."""

    @abstractmethod
    def principal_observation(self) -> Any:
        """Batch of principal observations (leading axis B; arrays or dict of arrays)."""

    @abstractmethod
    def agent_observation(self, contracts: np.ndarray | None) -> Any:
        """Batch of agent observations with leading axes ``[B, N]``; ``contracts`` ``[B, N, O]``
        are the offers each agent sees (``None`` in simultaneous games or with no principal)."""

    @abstractmethod
    def state(self, contracts: np.ndarray | None) -> np.ndarray:
        """Global state ``[B, ...]`` for centralised critics."""

    def render_ansi(self, env_index: int) -> str:
        return f"{self.name}: round {int(self.t[env_index])}"

    def render_rgb(self, env_index: int) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no rgb_array rendering")


def _take(obs: Any, index) -> Any:
    """Index the leading axes of an observation batch (array or dict of arrays)."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


class VectorContractEnv:
    """Batched multi-player API over a :class:`ContractGame`.

    ``step(actions)`` takes a dict player -> array ``[B, ...]`` and returns five dicts of arrays
    (observations, rewards, terminations, truncations, infos) for every player. Players' rewards
    are their utilities: agents ``r(s, a) + b(o)`` (+ reward-sharing transfer), the principal
    ``r_p(s, o) - sum b(o)``.

    With ``autoreset=True`` an env whose episode ended is reset in the same call: the returned
    observation is the first of the next episode, the final one is kept in
    ``self.final_observations`` and the finished episode's totals are in that step's infos
    (``episode_*`` keys).
    """

    def __init__(self, game: ContractGame, autoreset: bool = True) -> None:
        self.game, self.autoreset = game, autoreset
        self.num_envs = game.num_envs
        self.agents = agent_ids(game.n_agents)
        self.possible_agents = ([PRINCIPAL] if game.has_principal else []) + self.agents
        self.two_stage = game.has_principal and not game.simultaneous
        self.stages_per_round = 2 if self.two_stage else 1
        self.ledger = Ledger(self.num_envs, game.n_agents)
        terms = game.terms
        n_out = terms.n_outcomes if terms is not None else 1
        self._zero_contracts = np.zeros((self.num_envs, game.n_agents, n_out))
        self._zero_contracts.flags.writeable = False  # shared between rounds: never written
        self.contracts = self._zero_contracts
        self.stage = OFFER if self.two_stage else ACT
        self.final_observations: dict[str, Any] | None = None
        self._single_cache: tuple[list, list] | None = None
        self._zero_rewards = {p: np.zeros(self.num_envs) for p in self.possible_agents}
        self._false = np.zeros(self.num_envs, dtype=bool)

    # ----------------------------------------------------------------- spaces
    def observation_space(self, player: str) -> spaces.Space:
        g = self.game
        return g.principal_observation_space if player == PRINCIPAL else g.agent_observation_space

    def action_space(self, player: str) -> spaces.Space:
        g = self.game
        if player == PRINCIPAL:
            return g.terms.principal_action_space()
        return spaces.Discrete(g.n_actions)

    # ----------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[dict, dict]:
        self.game.reset(seed=seed)
        self.ledger.reset()
        self.contracts = self._zero_contracts
        self.stage = OFFER if self.two_stage else ACT
        self.final_observations = None
        self._single_cache = None
        return self._observe(), self._infos()

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        settlement, terminated, truncated = self._advance(actions)
        if settlement is None:  # offer stage
            obs = self._observe()
            done = {p: self._false for p in self.possible_agents}
            return obs, self._zero_rewards, done, done, self._infos()
        s = settlement
        rewards = {a: s.agent_utility[:, i] for i, a in enumerate(self.agents)}
        if self.game.has_principal:
            rewards[PRINCIPAL] = s.principal_utility
        terms = {p: terminated for p in self.possible_agents}
        truncs = {p: truncated for p in self.possible_agents}
        infos = self._infos()
        if self.autoreset and (terminated.any() or truncated.any()):
            self.final_observations = self._observe()
            idx = np.flatnonzero(terminated | truncated)
            self.game.reset(env_idx=idx)
            self.ledger.reset(idx)
        obs = self._observe()
        return obs, rewards, terms, truncs, infos

    def step_single(self, actions: dict[str, Any]) -> tuple[dict, dict, bool, bool, dict]:
        """:meth:`step` of a one-env batch (no auto-reset) in Python scalars, for the B = 1 adapters:
        ``(obs, rewards, terminated, truncated, infos)`` with float rewards and info values and
        bool flags shared by every player; same values as ``step`` at index 0."""
        if self.num_envs != 1 or self.autoreset:
            raise ValueError("step_single needs a VectorContractEnv with num_envs == 1 and autoreset=False")
        settlement, terminated, truncated = self._advance(actions)
        if settlement is None:
            rewards = dict.fromkeys(self.possible_agents, 0.0)
        else:
            rewards = dict(zip(self.agents, settlement.agent_utility[0].tolist(), strict=True))
            if self.game.has_principal:
                rewards[PRINCIPAL] = settlement.principal_utility[0].item()
        infos = self._infos_single(offer_stage=settlement is None)
        return self._observe_single(), rewards, bool(terminated[0]), bool(truncated[0]), infos

    def _advance(self, actions: dict[str, Any]) -> tuple[Settlement | None, np.ndarray, np.ndarray]:
        """Validate and apply one stage: the offer (returns ``None``) or the act stage (returns the
        settlement and the terminated / truncated flags)."""
        g = self.game
        if self.stage == OFFER:
            if PRINCIPAL not in actions:
                raise ValueError(
                    f"{PRINCIPAL}: no contract given in the offer stage; expected an array of shape "
                    f"{g.terms.shape} with payments in [0, {g.terms.payment_cap}]"
                )
            self.contracts = g.terms.validate(actions[PRINCIPAL], self.num_envs)
            self.stage = ACT
            self.ledger.clear_step()
            return None, self._false, self._false

        agent_actions = validate_actions(actions, self.num_envs, g.n_actions, self.agents)
        self._single_cache = None  # the ledger changes below
        if g.has_principal and g.simultaneous:
            if PRINCIPAL not in actions:
                raise ValueError(
                    f"{PRINCIPAL}: no incentive schedule given; expected an array of shape "
                    f"{g.terms.shape} with payments in [0, {g.terms.payment_cap}]"
                )
            self.contracts = g.terms.validate(actions[PRINCIPAL], self.num_envs)
        tr, truncated = g.step(agent_actions)
        s = settle(
            self.contracts, tr.outcomes, tr.agent_own, tr.principal_own, g.principal_in_welfare, g.reward_sharing
        )
        self.ledger.record(s)
        if self.two_stage:
            self.stage = OFFER
            self.contracts = self._zero_contracts
        return s, tr.terminated, truncated

    def state(self) -> np.ndarray:
        return self.game.state(self.contracts if self.game.has_principal else None)

    # ----------------------------------------------------------------- helpers
    def _observe(self) -> dict[str, Any]:
        g = self.game
        shown = None
        if g.has_principal and not g.simultaneous:
            shown = self.contracts
        agent_obs = g.agent_observation(shown)
        obs = {a: _take(agent_obs, (slice(None), i)) for i, a in enumerate(self.agents)}
        if g.has_principal:
            obs[PRINCIPAL] = g.principal_observation()
        return obs

    def _observe_single(self) -> dict[str, Any]:
        """Observations of env 0 (views into the batch arrays)."""
        g = self.game
        agent_obs = g.agent_observation(self.contracts if g.has_principal and not g.simultaneous else None)
        obs = {a: _take(agent_obs, (0, i)) for i, a in enumerate(self.agents)}
        if g.has_principal:
            obs[PRINCIPAL] = _take(g.principal_observation(), 0)
        return obs

    def _infos_single(self, offer_stage: bool = False) -> dict[str, dict[str, Any]]:
        """:meth:`_infos` of env 0 as Python floats.

        In an offer stage the ledger's step entries are zero and its episode totals those of the
        previous act stage, so the values converted then are reused (``_single_cache``, dropped
        on reset)."""
        led = self.ledger
        cache = self._single_cache if offer_stage else None
        if cache is None:
            step_agent, episode_agent = led.step_agent, led.episode_agent
            rows = [step_agent[k].tolist()[0] for k in AGENT_LEDGER_KEYS]  # per key: the N agents' values
            rows += [episode_agent[k].tolist()[0] for k in AGENT_LEDGER_KEYS]
            values = []
            if self.game.has_principal:
                step_p, episode_p = led.step_principal, led.episode_principal
                values = [step_p[k].item() for k in PRINCIPAL_LEDGER_KEYS]
                values += [episode_p[k].item() for k in PRINCIPAL_LEDGER_KEYS]
            self._single_cache = cache = (rows, values)
        rows, values = cache
        n_agent_keys, n_principal_keys = len(AGENT_LEDGER_KEYS), len(PRINCIPAL_LEDGER_KEYS)
        agents_act = self.stage == ACT
        infos: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.agents):
            column = [row[i] for row in rows]
            if offer_stage:
                column[:n_agent_keys] = [0.0] * n_agent_keys
            info = dict(zip(_AGENT_INFO_KEYS, column, strict=True))
            info["acting"] = agents_act
            infos[a] = info
        if self.game.has_principal:
            if offer_stage:
                values = [0.0] * n_principal_keys + values[n_principal_keys:]
            info = dict(zip(_PRINCIPAL_INFO_KEYS, values, strict=True))
            info["acting"] = self.stage == OFFER or self.game.simultaneous
            infos[PRINCIPAL] = info
        return infos

    def _infos(self, copy: bool = False) -> dict[str, dict[str, Any]]:
        """Ledger entries per player (no copies needed: the ledger never modifies arrays in place)."""
        led = self.ledger
        agents_act = self.stage == ACT
        infos: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.agents):
            infos[a] = led.agent_info(i)
            infos[a]["acting"] = agents_act
        if self.game.has_principal:
            infos[PRINCIPAL] = led.principal_info()
            infos[PRINCIPAL]["acting"] = self.stage == OFFER or self.game.simultaneous
        return infos
