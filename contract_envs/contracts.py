"""The contract layer shared by every environment.

A *contract* is a non-negative payment per outcome (limited liability), offered by the principal
to one agent. Observed-action contracts are the case outcome = action; the recommendation contract
"pay p if you take a" is the one-hot case. This module owns everything about money so that no
environment re-implements it: the contract space, validation of offers and actions (clear
``ValueError`` naming player, field and allowed range, never silent clipping), settlement of a
step, and the per-step / per-episode ledger that every environment reports in ``infos``.

Accounting identities (checked in tests): what the principal pays equals what the agents receive,
exactly; welfare is the sum of own (pre-transfer) rewards, so transfers cancel in it. Reward
sharing among the agents (the constant-proportion baseline) is settled here too, as budget-balanced
``transfer`` entries of the ledger: the agents' transfers sum to zero and the principal pays none.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from gymnasium import spaces

PRINCIPAL = "principal_0"


def agent_id(i: int) -> str:
    return f"agent_{i}"


def agent_ids(n_agents: int) -> list[str]:
    return [agent_id(i) for i in range(n_agents)]


@dataclass(frozen=True)
class ContractTerms:
    """Shape and bounds of the contracts one principal offers its agents each step.

    Attributes:
        n_agents: agents receiving a contract.
        n_outcomes: outcomes a payment can be conditioned on (= the agent's actions for
            observed-action contracts).
        payment_cap: largest payment allowed for any single outcome in one step (finite, so the
            principal's action space is a bounded Box).
    """

    n_agents: int
    n_outcomes: int
    payment_cap: float

    def __post_init__(self) -> None:
        if self.n_agents < 1 or self.n_outcomes < 1:
            raise ValueError(
                f"contract terms need n_agents >= 1 and n_outcomes >= 1, got {self.n_agents}, {self.n_outcomes}"
            )
        if not (np.isfinite(self.payment_cap) and self.payment_cap > 0):
            raise ValueError(f"payment_cap must be finite and > 0, got {self.payment_cap!r}")

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_agents, self.n_outcomes)

    def principal_action_space(self) -> spaces.Box:
        """The principal's action: one contract (row) per agent."""
        return spaces.Box(0.0, self.payment_cap, self.shape, dtype=np.float32)

    def contract_space(self) -> spaces.Box:
        """One agent's view of its own contract."""
        return spaces.Box(0.0, self.payment_cap, (self.n_outcomes,), dtype=np.float32)

    def validate(self, contracts, num_envs: int, player: str = PRINCIPAL) -> np.ndarray:
        """Check a batch of offers and return it as float64 ``[num_envs, n_agents, n_outcomes]``.

        Accepts one offer of shape ``(n_agents, n_outcomes)`` when ``num_envs == 1``. Raises
        ``ValueError`` on a wrong shape or dtype, NaN/inf, a negative payment or one above the cap.
        """
        arr = np.asarray(contracts)
        if arr.dtype.kind not in "biuf":
            raise ValueError(
                f"{player}: contract has dtype {arr.dtype}, which cannot be cast safely to float; "
                f"expected real payments in [0, {self.payment_cap}]"
            )
        expected = (num_envs, *self.shape)
        if arr.shape == self.shape and num_envs == 1:
            arr = arr[None]
        elif arr.shape == (num_envs, self.n_outcomes) and self.n_agents == 1:
            arr = arr[:, None, :]
        if arr.shape != expected:
            want = f"{self.shape}" if num_envs == 1 else f"{expected}"
            raise ValueError(
                f"{player}: contract has shape {np.shape(contracts)}; expected {want} "
                f"(agents x outcomes = {self.n_agents} x {self.n_outcomes})"
            )
        converted = arr.dtype != np.float64
        arr = arr.astype(np.float64, copy=False)
        limit = self.payment_cap * (1 + 1e-6)
        high = arr.max()
        if not (arr.min() >= 0.0 and high <= limit):  # NaN fails both comparisons
            bad = ~np.isfinite(arr) | (arr < 0) | (arr > limit)
            env, agent, outcome = (int(v) for v in np.argwhere(bad)[0])
            where = f" in env {env}" if num_envs > 1 else ""
            raise ValueError(
                f"{player}: payment to {agent_id(agent)} for outcome {outcome}{where} is "
                f"{arr[env, agent, outcome]!r}; allowed range is [0, {self.payment_cap}] "
                "(finite, non-negative: limited liability; raise payment_cap to allow more)"
            )
        if high > self.payment_cap:  # within rounding tolerance of the cap
            return np.minimum(arr, self.payment_cap)
        return arr if converted else arr.copy()  # never alias the caller's buffer


def validate_actions(actions, num_envs: int, n_actions: int, players: list[str]) -> np.ndarray:
    """Check discrete actions for ``players`` and return int64 ``[num_envs, len(players)]``.

    ``actions`` is a mapping player -> int (``num_envs == 1``) or int array ``[num_envs]``.
    """
    if num_envs == 1:  # PettingZoo adapters pass Python ints: check them without numpy
        values = [actions.get(player) for player in players]
        if all(type(v) is int and 0 <= v < n_actions for v in values):
            return np.array([values], dtype=np.int64)
    out = np.empty((len(players), num_envs), dtype=np.int64)
    for j, player in enumerate(players):
        if player not in actions:
            raise ValueError(f"{player}: no action given; expected an int in [0, {n_actions - 1}]")
        a = np.asarray(actions[player])
        if a.dtype.kind not in "biu":
            if not (a.dtype.kind == "f" and np.all(a == np.round(a))):
                raise ValueError(f"{player}: action {actions[player]!r} is not an integer in [0, {n_actions - 1}]")
            if np.any((a < 0) | (a >= n_actions)):  # before the cast: inf would not survive it
                raise ValueError(
                    f"{player}: action {actions[player]!r} is out of range; allowed [0, {n_actions - 1}]"
                )
        if a.shape not in ((), (num_envs,), (1,)) or (a.shape == (1,) and num_envs != 1):
            raise ValueError(f"{player}: action has shape {a.shape}; expected () or ({num_envs},)")
        out[j] = a
    if out.size and out.view(np.uint64).max() >= n_actions:  # one check for all; negatives wrap to huge
        j = int(np.flatnonzero(((out < 0) | (out >= n_actions)).any(axis=1))[0])
        raise ValueError(
            f"{players[j]}: action {actions[players[j]]!r} is out of range; allowed [0, {n_actions - 1}]"
        )
    return out.T


def sharing_transfers(agent_own: np.ndarray, proportion: float) -> np.ndarray:
    """Budget-balanced transfers ``[B, N]`` of reward sharing with proportion ``p``.

    Agent i ends with ``(1 - p) r_i + p * mean_j r_j``, i.e. receives ``p * (mean_j r_j - r_i)``
    (Christoffersen et al.'s constant-proportion redistribution). The last agent's transfer is
    minus the sum of the others', so each row sums to zero up to one rounding of that sum.
    """
    if not (0.0 <= proportion <= 1.0):
        raise ValueError(f"reward sharing proportion must lie in [0, 1], got {proportion!r}")
    own = np.asarray(agent_own, dtype=np.float64)
    transfers = proportion * (own.mean(axis=1, keepdims=True) - own)
    transfers[:, -1] = -transfers[:, :-1].sum(axis=1)
    return transfers


@dataclass
class Settlement:
    """Money and rewards of one step, per env (leading axis B)."""

    payments: np.ndarray  # [B, N] what each agent receives (= what the principal pays it)
    agent_own: np.ndarray  # [B, N] agents' own (pre-transfer) rewards
    agent_utility: np.ndarray  # [B, N] own + payment + transfer
    principal_own: np.ndarray  # [B] principal's own reward
    principal_paid: np.ndarray  # [B] total outlay
    principal_utility: np.ndarray  # [B] own - outlay
    welfare: np.ndarray  # [B] sum of own rewards (transfers cancel)
    transfers: np.ndarray | None = None  # [B, N] budget-balanced agent-to-agent transfers (None: none)


@functools.lru_cache(maxsize=64)
def _row_starts(shape: tuple[int, int, int]) -> np.ndarray:
    """Flat index of ``[b, i, 0]`` in a C-ordered ``[B, N, O]`` array (read-only, cached)."""
    num_envs, n_agents, n_outcomes = shape
    rows = np.arange(0, num_envs * n_agents * n_outcomes, n_outcomes).reshape(num_envs, n_agents)
    rows.flags.writeable = False
    return rows


def settle(
    contracts: np.ndarray,
    outcomes: np.ndarray,
    agent_own: np.ndarray,
    principal_own: np.ndarray,
    principal_in_welfare: bool = True,
    reward_sharing: float = 0.0,
) -> Settlement:
    """Pay each agent the entry of its contract for its realised outcome.

    Args:
        contracts: ``[B, N, O]`` validated offers.
        outcomes: ``[B, N]`` realised outcome index per agent.
        agent_own: ``[B, N]`` agents' own rewards ``r(s, a)``.
        principal_own: ``[B]`` principal's own reward ``r_p(s, o)``.
        principal_in_welfare: whether the principal's own reward is a real payoff counted in
            welfare (True for production-style principals) or a function of the agents' rewards
            (False, e.g. a planner maximising ``w * sum r_i``), which would double-count.
        reward_sharing: proportion ``p`` of reward sharing among the agents (0: none), settled as
            the budget-balanced transfers of :func:`sharing_transfers`.
    """
    payments = contracts.reshape(-1)[_row_starts(contracts.shape) + outcomes]  # take_along_axis, faster
    paid = np.add.reduce(payments, axis=1)
    welfare = np.add.reduce(agent_own, axis=1)
    if principal_in_welfare:
        welfare = welfare + principal_own
    utility = agent_own + payments
    transfers = None
    if reward_sharing:
        transfers = sharing_transfers(agent_own, reward_sharing)
        utility = utility + transfers
    return Settlement(
        payments=payments,
        agent_own=agent_own,
        agent_utility=utility,
        principal_own=principal_own,
        principal_paid=paid,
        principal_utility=principal_own - paid,
        welfare=welfare,
        transfers=transfers,
    )


AGENT_LEDGER_KEYS = ("own_reward", "payment", "transfer", "utility")
PRINCIPAL_LEDGER_KEYS = ("own_reward", "payment", "utility", "welfare")


class Ledger:
    """Per-step and per-episode accounts of a batch, reported in every player's ``infos``.

    Keys (all floats, present from ``reset`` on so that TorchRL/BenchMARL info specs are stable):
    agents ``own_reward``, ``payment`` (received), ``transfer`` (reward sharing received, zero-sum
    across agents), ``utility``; the principal ``own_reward``, ``payment`` (paid), ``utility``,
    ``welfare``; each also as ``episode_<key>`` (running total of the current episode).

    Arrays are replaced, never modified in place, so the infos handed out earlier keep their
    values without being copied.
    """

    def __init__(self, num_envs: int, n_agents: int) -> None:
        self.num_envs, self.n_agents = num_envs, n_agents
        self.step_agent = {k: np.zeros((num_envs, n_agents)) for k in AGENT_LEDGER_KEYS}
        self.step_principal = {k: np.zeros(num_envs) for k in PRINCIPAL_LEDGER_KEYS}
        self.episode_agent = {k: np.zeros((num_envs, n_agents)) for k in AGENT_LEDGER_KEYS}
        self.episode_principal = {k: np.zeros(num_envs) for k in PRINCIPAL_LEDGER_KEYS}
        # shared read-only zeros for cleared entries (nothing writes into ledger arrays)
        self._zero_agent = np.zeros((num_envs, n_agents))
        self._zero_principal = np.zeros(num_envs)
        self._zero_agent.flags.writeable = self._zero_principal.flags.writeable = False

    def clear_step(self) -> None:
        for k in self.step_agent:
            self.step_agent[k] = self._zero_agent
        for k in self.step_principal:
            self.step_principal[k] = self._zero_principal

    def reset(self, env_idx: np.ndarray | None = None) -> None:
        """Zero the episode totals (of ``env_idx`` only, or of every env)."""
        for d in (self.step_agent, self.step_principal, self.episode_agent, self.episode_principal):
            for k, v in d.items():
                if env_idx is None:
                    d[k] = self._zero_agent if v.ndim == 2 else self._zero_principal
                else:
                    v = v.copy()
                    v[env_idx] = 0.0
                    d[k] = v

    def record(self, s: Settlement) -> None:
        sa, sp = self.step_agent, self.step_principal
        sa["own_reward"] = np.array(s.agent_own, dtype=np.float64)  # copies: the game may reuse its arrays
        sa["payment"] = s.payments
        sa["transfer"] = self._zero_agent if s.transfers is None else s.transfers
        sa["utility"] = s.agent_utility
        sp["own_reward"] = np.array(s.principal_own, dtype=np.float64)
        sp["payment"] = s.principal_paid
        sp["utility"] = s.principal_utility
        sp["welfare"] = s.welfare
        for k in AGENT_LEDGER_KEYS:
            self.episode_agent[k] = self.episode_agent[k] + sa[k]
        for k in PRINCIPAL_LEDGER_KEYS:
            self.episode_principal[k] = self.episode_principal[k] + sp[k]

    def agent_info(self, i: int) -> dict[str, np.ndarray]:
        info = {k: self.step_agent[k][:, i] for k in AGENT_LEDGER_KEYS}
        info.update({f"episode_{k}": self.episode_agent[k][:, i] for k in AGENT_LEDGER_KEYS})
        return info

    def principal_info(self) -> dict[str, np.ndarray]:
        info = dict(self.step_principal)
        info.update({f"episode_{k}": v for k, v in self.episode_principal.items()})
        return info
