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

Transfers (see :mod:`contract_envs.contracts`): a game with ``peer_terms`` lets every agent also pay
the other agents, with a payment schedule over each recipient's outcomes, chosen with its action
(its action is then ``{"action": int, "incentives": [N-1, O]}``); a game may also return rule-based
transfers in ``Transition.transfers`` (taxes, redistribution). A game whose principal sets a policy
rather than payments (tax rates) sets ``principal_pays_contracts = False``: its validated action is
given to the game (``self.incentives``) and no contract payment is made. Games whose state holds
money update it in :meth:`ContractGame.on_settled`; games with non-linear utility of money override
:meth:`ContractGame.rewards`; games add numeric infos with :meth:`ContractGame.extra_infos`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from contract_envs.contracts import (
    PRINCIPAL,
    ContractTerms,
    Ledger,
    Settlement,
    agent_ids,
    peer_amounts,
    settle,
    transfer_matrix,
    validate_actions,
)
from contract_envs.rng import BatchedStreams

OFFER, ACT = "offer", "act"


@dataclass
class Transition:
    """What the base game returns for one act stage (leading axis B)."""

    agent_own: np.ndarray  # [B, N] float: agents' own rewards r(s, a)
    principal_own: np.ndarray  # [B] float: principal's own reward r_p(s, o)
    outcomes: np.ndarray  # [B, N] int: outcome index each agent's contract is settled on
    terminated: np.ndarray  # [B] bool: reached an absorbing state
    transfers: np.ndarray | None = None  # [B, N+1, N+1] rule-based transfers payer -> payee (principal = N)


class ContractGame(ABC):
    """Rules of one principal-agent game over a batch of ``num_envs`` environments.

    Subclasses set the single-env spaces ``principal_observation_space``,
    ``agent_observation_space`` and ``state_space`` and implement ``_reset``, ``_step`` and the
    observation functions. ``horizon`` counts rounds; reaching it truncates an episode.
    """

    name: str = "contract_game"
    simultaneous: bool = False
    principal_in_welfare: bool = True
    principal_pays_contracts: bool = True  # False: the principal's action is a policy (e.g. tax rates)
    rule_transfers: bool = False  # True: _step may return Transition.transfers
    peer_terms: ContractTerms | None = None  # set: agents pay each other (schedule over recipients' outcomes)
    incentives: np.ndarray | None = None  # the principal's validated action of the current round

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

    @property
    def has_transfers(self) -> bool:
        return self.peer_terms is not None or self.rule_transfers

    def step(self, actions: np.ndarray, incentives: np.ndarray | None = None) -> tuple[Transition, np.ndarray]:
        """Advance every env one round with validated actions ``[B, N]``; returns (transition, truncated).

        ``incentives`` is the principal's validated action of this round (``[B, N, O]``), kept in
        ``self.incentives`` for games whose rules read it."""
        self.incentives = incentives
        tr = self._step(actions)
        self.t += 1
        if self.horizon is None:
            truncated = np.zeros(self.num_envs, dtype=bool)
        else:
            truncated = (self.t >= self.horizon) & ~tr.terminated
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

    def on_settled(self, settlement: Settlement) -> None:
        """Called after each act stage is settled: games whose state holds money update it here."""
        return None

    def rewards(self, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        """Players' rewards ``([B, N], [B])`` from a settled step; default: quasi-linear utilities."""
        return settlement.agent_utility, settlement.principal_utility

    def extra_infos(self) -> dict[str, dict[str, np.ndarray]]:
        """Game-specific numeric infos per player (arrays ``[B]``, same keys from reset on)."""
        return {}

    def render_ansi(self, env_index: int) -> str:
        return f"{self.name}: round {int(self.t[env_index])}"

    def render_rgb(self, env_index: int) -> np.ndarray:
        raise NotImplementedError(f"{self.name} has no rgb_array rendering")


def index_contract_state(index: np.ndarray, contracts: np.ndarray) -> np.ndarray:
    """State ``[B, 1 + O]`` float32 of a single-agent game: a state index, then the agent's contract."""
    out = np.empty((len(index), 1 + contracts.shape[-1]), dtype=np.float32)
    out[:, 0] = index
    out[:, 1:] = contracts[:, 0]
    return out


def last_move_text(last_action: np.ndarray, last_outcome: np.ndarray, env_index: int) -> str:
    """`` | last action a -> outcome o`` for ansi renders (empty before the first act stage)."""
    if last_action[env_index] < 0:
        return ""
    return f" | last action {last_action[env_index]} -> outcome {last_outcome[env_index]}"


def _take(obs: Any, index) -> Any:
    """Index the leading axes of an observation batch (array or dict of arrays)."""
    if isinstance(obs, dict):
        return {k: v[index] for k, v in obs.items()}
    return obs[index]


class AutoResetStep:
    """``step`` = ``step_arrays`` + infos + same-step auto-reset, shared by every staged vector env.

    The host class provides ``step_arrays`` (returns obs, rewards, terminations, truncations and
    ``done``, ``None`` after a stage that cannot end an episode), ``_infos``, ``_observe``,
    ``game``, ``ledger`` and ``autoreset``.
    """

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        """One stage for every env: returns (observations, rewards, terminations, truncations, infos)."""
        obs, rewards, terms, truncs, done = self.step_arrays(actions)
        if done is None:
            return obs, rewards, terms, truncs, self._infos()
        infos = self._infos(copy=True)
        if self.autoreset and done.any():
            self.final_observations = obs
            idx = np.flatnonzero(done)
            self.game.reset(env_idx=idx)
            self.ledger.reset(idx)
            obs = self._observe()
        return obs, rewards, terms, truncs, infos


class VectorContractEnv(AutoResetStep):
    """Batched multi-player API over a :class:`ContractGame`.

    ``step(actions)`` takes a dict player -> array ``[B, ...]`` and returns five dicts of arrays
    (observations, rewards, terminations, truncations, infos) for every player. Players' rewards
    are their utilities: agents ``r(s, a) + b(o)``, the principal ``r_p(s, o) - sum b(o)``.

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
        self.ledger = Ledger(self.num_envs, game.n_agents, transfers=game.has_transfers)
        terms = game.terms
        n_out = terms.n_outcomes if terms is not None else 1
        self.contracts = np.zeros((self.num_envs, game.n_agents, n_out))
        self.stage = OFFER if self.two_stage else ACT
        self.final_observations: dict[str, Any] | None = None
        self._zero_rewards = {p: np.zeros(self.num_envs) for p in self.possible_agents}
        self._false = np.zeros(self.num_envs, dtype=bool)
        self._zero_contracts = np.zeros_like(self.contracts)

    # ----------------------------------------------------------------- spaces
    def observation_space(self, player: str) -> spaces.Space:
        g = self.game
        return g.principal_observation_space if player == PRINCIPAL else g.agent_observation_space

    def action_space(self, player: str) -> spaces.Space:
        g = self.game
        if player == PRINCIPAL:
            return g.terms.principal_action_space()
        if g.peer_terms is not None:
            peer = g.peer_terms
            return spaces.Dict(
                {
                    "action": spaces.Discrete(g.n_actions),
                    "incentives": spaces.Box(
                        0.0, peer.payment_cap, (g.n_agents - 1, peer.n_outcomes), dtype=np.float32
                    ),
                }
            )
        return spaces.Discrete(g.n_actions)

    # ----------------------------------------------------------------- API
    def reset(self, seed: int | None = None) -> tuple[dict, dict]:
        self.game.reset(seed=seed)
        self.ledger.reset()
        self.contracts = self._zero_contracts
        self.stage = OFFER if self.two_stage else ACT
        self.final_observations = None
        return self._observe(), self._infos()

    def step_arrays(self, actions: dict[str, Any]):
        """One stage without infos or auto-reset (the adapters' hot path).

        Returns observations, rewards, terminations, truncations (dicts of arrays) and ``done``
        (``[B]`` bool after an act stage, ``None`` after an offer stage). The ledger holds the
        accounts of the stage.
        """
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
            done = {p: self._false for p in self.possible_agents}
            return self._observe(), self._zero_rewards, done, done, None

        peer_offers = None
        if g.peer_terms is not None:
            agent_actions, peer_offers = self._split_peer_actions(actions)
        else:
            agent_actions = validate_actions(actions, self.num_envs, g.n_actions, self.agents)
        if g.has_principal and g.simultaneous:
            if PRINCIPAL not in actions:
                raise ValueError(
                    f"{PRINCIPAL}: no incentive schedule given; expected an array of shape "
                    f"{g.terms.shape} with payments in [0, {g.terms.payment_cap}]"
                )
            self.contracts = g.terms.validate(actions[PRINCIPAL], self.num_envs)
        tr, truncated = g.step(agent_actions, self.contracts if g.has_principal else None)
        transfers = None
        if g.has_transfers:
            peer = None if peer_offers is None else peer_amounts(peer_offers, tr.outcomes)
            transfers = transfer_matrix(self.num_envs, g.n_agents, peer=peer, rules=tr.transfers)
        pays = g.has_principal and g.principal_pays_contracts
        s = settle(
            self.contracts if pays else None, tr.outcomes, tr.agent_own, tr.principal_own,
            g.principal_in_welfare, transfers=transfers,
        )
        self.ledger.record(s)
        g.on_settled(s)
        agent_rewards, principal_reward = g.rewards(s)
        rewards = {a: agent_rewards[:, i] for i, a in enumerate(self.agents)}
        if g.has_principal:
            rewards[PRINCIPAL] = principal_reward
        terminated = tr.terminated
        terms = dict.fromkeys(self.possible_agents, terminated)
        truncs = dict.fromkeys(self.possible_agents, truncated)
        if self.two_stage:
            self.stage = OFFER
            self.contracts = self._zero_contracts
        return self._observe(), rewards, terms, truncs, terminated | truncated

    def state(self) -> np.ndarray:
        return self.game.state(self.contracts if self.game.has_principal else None)

    # ----------------------------------------------------------------- helpers
    def _split_peer_actions(self, actions: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
        """Agents' ``{"action", "incentives"}`` -> (actions ``[B, N]``, offers ``[B, N, N, O]``)."""
        g, n = self.game, self.game.n_agents
        peer = g.peer_terms
        offers = np.zeros((self.num_envs, n, n, peer.n_outcomes))
        moves = {}
        for i, a in enumerate(self.agents):
            act = actions.get(a)
            if not isinstance(act, dict) or "action" not in act or "incentives" not in act:
                raise ValueError(
                    f"{a}: expected a dict {{'action': int in [0, {g.n_actions - 1}], 'incentives': array "
                    f"({n - 1}, {peer.n_outcomes}) in [0, {peer.payment_cap}]}} (one row per other agent), got {act!r}"
                )
            moves[a] = act["action"]
            others = [b for b in self.agents if b != a]
            rows = ContractTerms(n - 1, peer.n_outcomes, peer.payment_cap).validate(
                act["incentives"], self.num_envs, player=a, recipients=others
            )
            offers[:, i, [j for j in range(n) if j != i]] = rows
        return validate_actions(moves, self.num_envs, g.n_actions, self.agents), offers

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

    def _infos(self, copy: bool = False) -> dict[str, dict[str, Any]]:
        led = self.ledger
        agents_act = self.stage == ACT
        # copy: views into one copy of each ledger table (2 copies instead of one per entry)
        agent_table, principal_table = led.copy_tables() if copy else (None, None)
        infos: dict[str, dict[str, Any]] = {}
        for i, a in enumerate(self.agents):
            infos[a] = led.agent_info(i, agent_table)
            infos[a]["acting"] = agents_act
        if self.game.has_principal:
            infos[PRINCIPAL] = led.principal_info(principal_table)
            infos[PRINCIPAL]["acting"] = self.stage == OFFER or self.game.simultaneous
        for player, extra in self.game.extra_infos().items():
            infos[player].update({k: v.copy() for k, v in extra.items()} if copy else extra)
        return infos
