"""The Game protocol: the rules of one game, written once as array code over ``B`` environments.

A game holds only its parameters (and tables derived from them); everything that changes during
an episode lives in one explicit state object, a dataclass of arrays with leading axis ``B``
(gymnax's ``EnvState``), that the game's ``reset`` and ``step`` read and write. Randomness comes
in as an argument (:class:`~contract_envs.rng.BatchedStreams`), so a state plus the streams'
counters is the whole of an environment: snapshot, restore, pickling and deepcopy copy exactly that.

A game declares *who moves and how* instead of branching on flags:

* ``timing``: :data:`SEQUENTIAL` (Principal-Agent RL: the principal offers, then the agents, who
  see their contracts, act), :data:`SIMULTANEOUS` (incentive design: the designer's schedule is
  chosen with the agents' actions and not seen by them) or :data:`HIERARCHICAL` (a tree of
  principals: offers top-down by depth, then every node acts). The stage machine of
  :mod:`contract_envs.core.machines` that runs the rounds follows from it.
* ``principal``: the principal's move: :class:`~contract_envs.contracts.ContractTerms`
  (payments, settled on outcomes), :class:`~contract_envs.contracts.PolicyTerms` (a policy such as
  tax rates, handed to ``step`` and never paid) or ``None`` (no principal).
* ``peer_terms``: agents' moves also carry payments to each other (learning to incentivise).
* ``transfers``: the rules move money between players (taxes, reward sharing), reported by
  ``step`` in :attr:`Transition.transfers`.
* ``principal_in_welfare``: whether the principal's own reward is a real payoff counted in welfare.

Every rule module imports only this protocol, the contract layer, the RNG and numpy/scipy/
``gymnasium.spaces``; the stage machines and the PettingZoo/Gymnasium adapters are generic over it.
"""

from __future__ import annotations

import copy
import dataclasses
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from contract_envs.checks import check_int, check_optional_int
from contract_envs.contracts import PRINCIPAL, ContractTerms, PolicyTerms, Settlement, agent_ids
from contract_envs.rng import BatchedStreams

SEQUENTIAL = "sequential"
SIMULTANEOUS = "simultaneous"
HIERARCHICAL = "hierarchical"
TIMINGS = (SEQUENTIAL, SIMULTANEOUS, HIERARCHICAL)


@dataclass
class GameState:
    """Base of every game's state: ``t [B]``, rounds played in each environment's episode.

    Subclasses add their arrays (leading axis ``B``) as dataclass fields. :meth:`copy` copies every
    field; derived caches kept as plain attributes (set in ``__post_init__``) start empty in a copy.
    """

    t: np.ndarray

    def copy(self) -> GameState:
        """A deep copy of every field (what snapshots, pickling and deepcopy keep)."""
        return type(self)(**{f.name: _deep_copy(getattr(self, f.name)) for f in dataclasses.fields(self)})

    def clear_cache(self) -> None:
        """Drop derived values cached on the state (call after editing the state by hand)."""
        cache = getattr(self, "cache", None)
        if cache is not None:
            cache.clear()


def _deep_copy(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_deep_copy(v) for v in value)
    return value


@dataclass
class Transition:
    """What a game's ``step`` returns for one round (leading axis ``B``).

    ``outcomes`` are the indices each agent's contract is settled on (``None`` when no payment is
    outcome-contingent, e.g. a tax planner's policy); ``transfers`` the rules' money moves payer ->
    payee over the ``N + 1`` parties (principal = index ``N``), or ``None``.
    """

    agent_own: np.ndarray  # [B, N] float: agents' own rewards r(s, a)
    principal_own: np.ndarray  # [B] float: principal's own reward r_p(s, o)
    outcomes: np.ndarray | None  # [B, N] int
    terminated: np.ndarray  # [B] bool: reached an absorbing state
    transfers: np.ndarray | None = None  # [B, N+1, N+1]


class Game(ABC):
    """Rules of one game over ``num_envs`` environments (see the module docstring).

    Subclasses set the single-environment spaces ``principal_observation_space`` (with a
    principal), ``agent_observation_space`` and ``state_space`` in ``__init__`` and implement the
    abstract methods. ``horizon`` counts rounds; reaching it truncates an episode.
    """

    name: ClassVar[str] = "game"
    timing: ClassVar[str] = SEQUENTIAL
    principal_in_welfare: ClassVar[bool] = True
    render_modes: ClassVar[tuple[str, ...]] = ("ansi", "human")
    render_fps: ClassVar[int] = 2

    principal_observation_space: spaces.Space
    agent_observation_space: spaces.Space
    state_space: spaces.Space

    def __init__(
        self,
        num_envs: int,
        n_agents: int,
        n_actions: int,
        principal: ContractTerms | PolicyTerms | None,
        horizon: int | None,
        *,
        peer_terms: ContractTerms | None = None,
        transfers: bool = False,
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1, owner=self.name)
        self.n_agents = check_int("n_agents", n_agents, 1, owner=self.name)
        self.n_actions = check_int("n_actions", n_actions, 1, owner=self.name)
        self.horizon = check_optional_int("horizon (rounds per episode)", horizon, 1, owner=self.name)
        if principal is not None and not isinstance(principal, (ContractTerms, PolicyTerms)):
            raise TypeError(f"{self.name}: principal must be ContractTerms, PolicyTerms or None, got {principal!r}")
        self.principal = principal
        self.peer_terms = peer_terms
        self.transfers = bool(transfers) or peer_terms is not None
        self.agents: list[str] = agent_ids(self.n_agents)
        self.players: list[str] = ([PRINCIPAL] if principal is not None else []) + self.agents

    @property
    def has_principal(self) -> bool:
        return self.principal is not None

    # ------------------------------------------------------------------ spaces
    def action_space(self, player: str) -> spaces.Space:
        """A fresh action space of ``player`` (callers cache one per player)."""
        if player == PRINCIPAL and self.principal is not None:
            return self.principal.principal_action_space()
        self._check_player(player)
        if self.peer_terms is None:
            return spaces.Discrete(self.n_actions)
        peer = self.peer_terms
        return spaces.Dict(
            {
                "action": spaces.Discrete(self.n_actions),
                "incentives": spaces.Box(0.0, peer.payment_cap, (peer.n_agents, peer.n_outcomes), dtype=np.float32),
            }
        )

    def observation_space(self, player: str) -> spaces.Space:
        """A fresh copy of ``player``'s observation space (callers cache one per player)."""
        if player == PRINCIPAL and self.principal is not None:
            return copy.deepcopy(self.principal_observation_space)
        self._check_player(player)
        return copy.deepcopy(self.agent_observation_space)

    def _check_player(self, player: str) -> None:
        if player not in self.players:
            raise ValueError(f"{self.name}: unknown player {player!r}; players are {self.players}")

    # ------------------------------------------------------------------ rules
    @abstractmethod
    def init_state(self) -> GameState:
        """A state for ``num_envs`` environments (its content is set by :meth:`reset`)."""

    @abstractmethod
    def reset(self, state: GameState, env_idx: np.ndarray, rng: BatchedStreams) -> None:
        """Draw the initial state of the environments ``env_idx`` in place (``state.t`` is zeroed by the
        caller); draw randomness only for those environments (``rng.uniform(n, env_idx)``)."""

    @abstractmethod
    def step(
        self, state: GameState, actions: np.ndarray, principal_action: np.ndarray | None, rng: BatchedStreams
    ) -> Transition:
        """Play one round in every environment: agents' validated actions ``[B, N]``, the principal's
        validated move (contracts ``[B, N, O]``, a policy ``[B, *shape]`` or ``None``; hierarchical games:
        every node's offer from its parent ``[B, N, K_max]``); update ``state`` in place (not ``state.t``:
        the stage machine counts rounds) and return the transition. The move is read-only; a game may keep
        a reference to it (to draw the last round's contracts)."""

    @abstractmethod
    def observe_agents(self, state: GameState, offers: np.ndarray | None) -> Any:
        """Agents' observations, leading axes ``[B, N]`` (array or dict of arrays). ``offers [B, N, O]``
        are the contracts each agent sees (sequential games; ``None`` otherwise)."""

    def observe_principal(self, state: GameState) -> Any:
        """The principal's observations, leading axis ``B``."""
        raise NotImplementedError(f"{self.name} has no principal")

    @abstractmethod
    def global_state(self, state: GameState, offers: np.ndarray | None) -> np.ndarray:
        """Global state ``[B, ...]`` for centralised critics (``state_space``)."""

    def on_settlement(self, state: GameState, settlement: Settlement) -> tuple[np.ndarray, np.ndarray]:
        """Players' rewards ``([B, N], [B])`` from a settled round; default: the ledger's utilities.

        Games whose state holds money update it here; games with non-linear utility of money, or a
        designer whose reward weighs its outlay, return their rewards."""
        return settlement.agent_utility, settlement.principal_utility

    def default_policy(self) -> Any:
        """A reference policy ``(player_id, observation) -> action`` for the players a role view plugs in
        when the user gives none (e.g. a best-responding agent), or ``None`` (then one must be given)."""
        return None

    def infos(self, state: GameState) -> dict[str, dict[str, np.ndarray]]:
        """Game-specific numeric infos per player (arrays ``[B]``, the same keys from reset on)."""
        return {}

    # ------------------------------------------------------------------ rendering
    def render_ansi(self, state: GameState, env_index: int, offers: np.ndarray | None = None) -> str:
        """A text frame of environment ``env_index``; ``offers``: the contracts on the table, if any."""
        return f"{self.name}: round {int(state.t[env_index])}"

    def render_rgb(self, state: GameState, env_index: int, offers: np.ndarray | None = None) -> np.ndarray:
        """An RGB frame ``[H, W, 3]`` uint8 of environment ``env_index`` (``"rgb_array"`` in ``render_modes``):
        the state, ``offers`` (the contracts on the table in the round in play, ``None`` between rounds)
        and the last round's moves, outcomes and payments, drawn with numpy (``contract_envs.games._draw``)."""
        raise NotImplementedError(f"{self.name} has no rgb_array rendering")


class HierarchicalGame(Game):
    """A game on a tree of principals (:data:`HIERARCHICAL` timing): every player is a node, the
    agent of its parent and the principal of its children. Adds the tree's structure and the nodes'
    observations, which depend on the stage of the round."""

    timing: ClassVar[str] = HIERARCHICAL
    parents: tuple[int, ...]  # parent of every node, -1 for the root (breadth-first order)
    node_actions: tuple[int, ...]  # actions of every node

    @abstractmethod
    def observe_nodes(self, state: GameState, stage: int, contracts: np.ndarray) -> dict[str, Any]:
        """Every node's observation batch at stage ``stage``; ``contracts [B, N, K]``: each node's
        current offer from its parent."""

    def observe_agents(self, state: GameState, offers: np.ndarray | None) -> Any:
        raise NotImplementedError("hierarchical games observe per node: observe_nodes")


def index_contract_state(index: np.ndarray, contracts: np.ndarray) -> np.ndarray:
    """State ``[B, 1 + O]`` float32 of a single-agent game: a state index, then the agent's contract."""
    out = np.empty((len(index), 1 + contracts.shape[-1]), dtype=np.float32)
    out[:, 0] = index
    out[:, 1:] = contracts[:, 0]
    return out


__all__ = [
    "HIERARCHICAL",
    "SEQUENTIAL",
    "SIMULTANEOUS",
    "TIMINGS",
    "Game",
    "GameState",
    "HierarchicalGame",
    "Transition",
    "index_contract_state",
]
