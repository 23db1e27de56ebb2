"""The contract layer shared by every environment.

A *contract* is a non-negative payment per outcome (limited liability), offered by the principal
to one agent. Observed-action contracts are the case outcome = action; the recommendation contract
"pay p if you take a" is the one-hot case. This module owns everything about money so that no
environment re-implements it: the contract space, validation of offers and actions (clear
``ValueError`` naming player, field and allowed range, never silent clipping), settlement of a
step, and the per-step / per-episode ledger that every environment reports in ``infos``.

Accounting identities (checked in tests): what the principal pays equals what the agents receive,
exactly; welfare is the sum of own (pre-transfer) rewards, so transfers cancel in it.

Besides the principal's contracts, money can move between any two players as *transfers*: agents
paying each other through peer contracts (learning to incentivise, LIO), or amounts the rules
move (taxes and their redistribution, reward sharing). Transfers are one ``[B, P, P]`` matrix of
non-negative amounts payer -> payee over the ``P = N + 1`` parties (agents ``0..N-1``, principal
``N``); every amount leaves one party and reaches another, so the parties' net transfers sum to
zero.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from gymnasium import spaces

from contract_envs.checks import check_int, check_real

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
        shared: one schedule for every agent (a payment per outcome type that each agent is
            paid on its own outcome, as an incentive designer's per-action incentives); the
            principal's action then has shape ``(n_outcomes,)``.
    """

    n_agents: int
    n_outcomes: int
    payment_cap: float
    shared: bool = False

    pays: ClassVar[bool] = True  # settled: the agent is paid its entry for the realised outcome

    def __post_init__(self) -> None:
        object.__setattr__(self, "n_agents", check_int("n_agents", self.n_agents, 1, owner="ContractTerms"))
        object.__setattr__(self, "n_outcomes", check_int("n_outcomes", self.n_outcomes, 1, owner="ContractTerms"))
        cap = check_real("payment_cap", self.payment_cap, 0.0, low_open=True, owner="ContractTerms")
        object.__setattr__(self, "payment_cap", cap)

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of one principal action: ``(n_agents, n_outcomes)``, or ``(n_outcomes,)`` if shared."""
        return (self.n_outcomes,) if self.shared else (self.n_agents, self.n_outcomes)

    def principal_action_space(self) -> spaces.Box:
        """The principal's action: one contract (row) per agent."""
        return spaces.Box(0.0, self.payment_cap, self.shape, dtype=np.float32)

    def contract_space(self) -> spaces.Box:
        """One agent's view of its own contract."""
        return spaces.Box(0.0, self.payment_cap, (self.n_outcomes,), dtype=np.float32)

    def validate(
        self, contracts, num_envs: int, player: str = PRINCIPAL, recipients: list[str] | None = None
    ) -> np.ndarray:
        """Check a batch of offers and return it as float64 ``[num_envs, n_agents, n_outcomes]``.

        Accepts one offer of shape ``(n_agents, n_outcomes)`` when ``num_envs == 1``. Raises
        ``ValueError`` on a wrong shape or dtype, NaN/inf, a negative payment or one above the cap.
        A shared schedule (``(n_outcomes,)`` per env) is returned repeated for every agent.
        ``recipients`` names the rows in error messages (default ``agent_0, agent_1, ...``).
        """
        what = "schedule" if self.shared else "contract"
        arr = _real_batch(contracts, num_envs, self.shape, player, what, self.payment_cap)
        if self.shared:
            arr = arr[:, None, :]
        low, high = arr.min(), arr.max()  # NaN propagates and fails both comparisons
        if not (low >= 0.0 and high <= self.payment_cap):
            bad = ~np.isfinite(arr) | (arr < 0) | (arr > self.payment_cap * (1 + 1e-6))
            if bad.any():
                env, agent, outcome = (int(v) for v in np.argwhere(bad)[0])
                where = f" in env {env}" if num_envs > 1 else ""
                if self.shared:
                    what = f"schedule entry {outcome}{where}"
                else:
                    to = recipients[agent] if recipients is not None else agent_id(agent)
                    what = f"payment to {to} for outcome {outcome}{where}"
                raise ValueError(
                    f"{player}: {what} is {float(arr[env, agent, outcome])!r}; allowed range is [0, "
                    f"{self.payment_cap}] (finite, non-negative: limited liability; raise payment_cap to allow more)"
                )
            arr = np.minimum(arr, self.payment_cap)  # within float32 rounding of the cap
        if self.shared:
            return np.repeat(arr, self.n_agents, axis=1)
        return arr


@dataclass(frozen=True)
class PolicyTerms:
    """A principal's move that is a policy, not a payment: e.g. a planner's marginal tax rates.

    The value is validated like a contract (shape, dtype, finite, within ``[low, high]``) and handed
    to the game's rules; no contract payment follows from it (money moves, if at all, through the
    rules' transfers).
    """

    shape: tuple[int, ...]
    low: float
    high: float
    label: str = "policy"
    pays: ClassVar[bool] = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(check_int("shape", d, 1, owner="PolicyTerms") for d in self.shape))
        low = check_real("low", self.low, owner="PolicyTerms")
        high = check_real("high", self.high, low, low_open=True, owner="PolicyTerms")
        object.__setattr__(self, "low", low)
        object.__setattr__(self, "high", high)

    def principal_action_space(self) -> spaces.Box:
        return spaces.Box(self.low, self.high, self.shape, dtype=np.float32)

    def validate(self, value, num_envs: int, player: str = PRINCIPAL) -> np.ndarray:
        """Check a batch of values and return it as float64 ``[num_envs, *shape]``."""
        arr = _real_batch(value, num_envs, self.shape, player, self.label, self.high)
        low, high = arr.min(), arr.max()
        if not (low >= self.low and high <= self.high):
            span = self.high - self.low
            bad = ~np.isfinite(arr) | (arr < self.low - 1e-6 * span) | (arr > self.high + 1e-6 * span)
            if bad.any():
                pos = tuple(int(v) for v in np.argwhere(bad)[0])
                where = f" in env {pos[0]}" if num_envs > 1 else ""
                raise ValueError(
                    f"{player}: {self.label} entry {pos[1:] if len(pos) > 2 else pos[1]}{where} is "
                    f"{float(arr[pos])!r}; allowed range is [{self.low}, {self.high}] (finite)"
                )
            arr = np.clip(arr, self.low, self.high)  # within float32 rounding of the bounds
        return arr


def _real_batch(value, num_envs: int, shape: tuple[int, ...], player: str, what: str, high: float) -> np.ndarray:
    """``value`` as float64 ``[num_envs, *shape]``: one unbatched value is accepted when ``num_envs == 1``."""
    arr = value if type(value) is np.ndarray else np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{player}: {what} has dtype {arr.dtype}, which is not a real number type; "
            f"expected an array of shape {shape} of finite reals (at most {high})"
        )
    if arr.shape == shape and num_envs == 1:
        arr = arr[None]
    elif len(shape) == 2 and shape[0] == 1 and arr.shape == (num_envs, shape[1]):
        arr = arr[:, None, :]
    if arr.shape != (num_envs, *shape):
        want = shape if num_envs == 1 else (num_envs, *shape)
        raise ValueError(f"{player}: {what} has shape {np.shape(value)}; expected {want}")
    return arr.astype(np.float64)  # a copy: the caller may reuse its buffer before the offer is settled


def validate_actions(actions, num_envs: int, n_actions: int, players: list[str]) -> np.ndarray:
    """Check discrete actions for ``players`` and return int64 ``[num_envs, len(players)]``.

    ``actions`` is a mapping player -> int (``num_envs == 1``) or int array ``[num_envs]``.
    """
    out = np.empty((num_envs, len(players)), dtype=np.int64)
    for j, player in enumerate(players):
        if player not in actions:
            raise ValueError(f"{player}: no action given; expected an int in [0, {n_actions - 1}]")
        a = actions[player]
        if type(a) is int and 0 <= a < n_actions:
            out[:, j] = a  # fast path for the single-env adapters
            continue
        a = np.asarray(a)
        if a.dtype.kind not in "iu" and not (a.dtype.kind == "f" and np.all(a == np.round(a))):
            raise ValueError(f"{player}: action {actions[player]!r} is not an integer in [0, {n_actions - 1}]")
        if a.shape not in ((), (num_envs,), (1,)) or (a.shape == (1,) and num_envs != 1):
            raise ValueError(f"{player}: action has shape {a.shape}; expected () or ({num_envs},)")
        if np.any((a < 0) | (a >= n_actions)):
            raise ValueError(f"{player}: action {actions[player]!r} is out of range; allowed [0, {n_actions - 1}]")
        out[:, j] = a
    return out


@dataclass
class Settlement:
    """Money and rewards of one step, per env (leading axis B)."""

    payments: np.ndarray  # [B, N] what each agent receives (= what the principal pays it)
    agent_own: np.ndarray  # [B, N] agents' own (pre-transfer) rewards
    agent_utility: np.ndarray  # [B, N] own + payment
    principal_own: np.ndarray  # [B] principal's own reward
    principal_paid: np.ndarray  # [B] total outlay
    principal_utility: np.ndarray  # [B] own - outlay (+ net transfers)
    welfare: np.ndarray  # [B] sum of own rewards (transfers cancel)
    transfers: np.ndarray | None = None  # [B, N+1, N+1] payer -> payee (principal = index N), or None
    transfer_in: np.ndarray | None = None  # [B, N+1] received by each party through transfers
    transfer_out: np.ndarray | None = None  # [B, N+1] given by each party through transfers


def peer_amounts(offers: np.ndarray, outcomes: np.ndarray) -> np.ndarray:
    """What each agent pays each other agent under peer contracts: ``[B, payer, payee]``.

    ``offers[b, i, j, o]`` is what agent ``i`` promised agent ``j`` for outcome ``o`` (zero on the
    diagonal); each promise is settled on the payee's realised outcome ``outcomes[b, j]``.
    """
    n_envs, n_agents = outcomes.shape
    idx = np.broadcast_to(outcomes[:, None, :, None], (n_envs, n_agents, n_agents, 1))
    return np.take_along_axis(offers, idx, axis=3)[..., 0]


def transfer_matrix(
    num_envs: int, n_agents: int, peer: np.ndarray | None = None, rules: np.ndarray | None = None
) -> np.ndarray:
    """All transfers of a step as one ``[B, N+1, N+1]`` matrix (principal = party ``N``).

    ``peer`` ``[B, N, N]``: agent-to-agent amounts (:func:`peer_amounts`); ``rules``
    ``[B, N+1, N+1]``: amounts the game's rules move (taxes, redistribution, reward sharing).
    Raises ``ValueError`` on a negative or non-finite amount (a transfer has a direction).
    """
    out = np.zeros((num_envs, n_agents + 1, n_agents + 1))
    if rules is not None:
        if rules.shape != out.shape:
            raise ValueError(f"rule transfers have shape {rules.shape}; expected {out.shape}")
        out += rules
    if peer is not None:
        out[:, :n_agents, :n_agents] += peer
    if not np.all(np.isfinite(out)) or np.any(out < 0):
        raise ValueError("transfers must be finite and non-negative (amount payer -> payee)")
    return out


@functools.lru_cache(maxsize=64)
def _row_starts(shape: tuple[int, int, int]) -> np.ndarray:
    """Flat index of ``[b, i, 0]`` in a C-ordered ``[B, N, O]`` array (read-only, cached)."""
    num_envs, n_agents, n_outcomes = shape
    rows = np.arange(0, num_envs * n_agents * n_outcomes, n_outcomes).reshape(num_envs, n_agents)
    rows.flags.writeable = False
    return rows


def reward_sharing_transfers(agent_own: np.ndarray, proportion: float) -> np.ndarray:
    """Rule transfers ``[B, N+1, N+1]`` of reward sharing with proportion ``p`` among the agents.

    The constant-proportion baseline (Christoffersen et al.; PARL's budget-matched comparison):
    agent ``i`` ends with ``(1 - p) r_i + p * mean_j r_j``. Each pair settles its difference, agent
    ``j`` paying agent ``i`` ``(p / N) * max(r_j - r_i, 0)``, so amounts are non-negative, the
    principal takes no part and ``i``'s net transfer is ``p * (mean_j r_j - r_i)``.
    """
    if not (0.0 <= proportion <= 1.0):
        raise ValueError(f"reward sharing proportion must lie in [0, 1], got {proportion!r}")
    own = np.asarray(agent_own, dtype=np.float64)
    num_envs, n_agents = own.shape
    out = np.zeros((num_envs, n_agents + 1, n_agents + 1))
    out[:, :n_agents, :n_agents] = (proportion / n_agents) * np.maximum(own[:, :, None] - own[:, None, :], 0.0)
    return out


def settle(
    contracts: np.ndarray | None,
    outcomes: np.ndarray,
    agent_own: np.ndarray,
    principal_own: np.ndarray,
    principal_in_welfare: bool = True,
    transfers: np.ndarray | None = None,
    ledger: Ledger | None = None,
) -> Settlement:
    """Pay each agent the entry of its contract for its realised outcome, and settle transfers.

    Args:
        contracts: ``[B, N, O]`` validated offers, or ``None`` when no contract pays this step
            (no principal, or a principal whose action is a policy such as tax rates).
        outcomes: ``[B, N]`` realised outcome index per agent.
        agent_own: ``[B, N]`` agents' own rewards ``r(s, a)``.
        principal_own: ``[B]`` principal's own reward ``r_p(s, o)``.
        principal_in_welfare: whether the principal's own reward is a real payoff counted in
            welfare (True for production-style principals) or a function of the agents' rewards
            (False, e.g. a planner maximising ``w * sum r_i``), which would double-count.
        transfers: ``[B, N+1, N+1]`` transfers between parties (:func:`transfer_matrix`), or
            ``None``. Each party's utility gains what it receives and loses what it gives.
        ledger: write the step's accounts straight into this ledger's step entries (then
            :meth:`Ledger.record` only adds them to the episode totals); the returned arrays are
            views of those entries, valid until the ledger's next step.

    The accounts are one table ``[keys, B, P]`` over the ``P = N + 1`` parties (agents, then the
    principal), so every key is computed for every party at once: an agent's ``payment`` is what it
    receives, the principal's what it pays; ``utility = own + sign * payment + transfer_in -
    transfer_out`` with sign +1 for agents and -1 for the principal.
    """
    num_envs, n = agent_own.shape
    rows = _ledger_rows(num_envs, n, transfers is not None) if ledger is None else ledger.step_entries()
    own, payment, utility, welfare = rows[0], rows[1], rows[2], rows[3]  # [P, B] each
    own[:n] = agent_own.T
    own[n] = principal_own
    if contracts is None:  # nothing paid: utilities are the own rewards
        payment[...] = 0.0
        utility[...] = own
    else:  # contracts[b, i, outcomes[b, i]], by one flat take (faster than 3-array fancy indexing)
        payment[:n] = contracts.reshape(-1)[_row_starts(contracts.shape) + outcomes].T
        np.add.reduce(payment[:n], axis=0, out=payment[n])
        np.multiply(payment, _signs(n), out=utility)
        utility += own
    np.add.reduce(own[:n], axis=0, out=welfare[n])
    if principal_in_welfare:
        welfare[n] += own[n]
    welfare[:n] = welfare[n]  # every party's row shows the step's welfare
    t_in = t_out = None
    if transfers is not None:
        t_in, t_out = transfers.sum(axis=1), transfers.sum(axis=2)
        utility += t_in.T
        utility -= t_out.T
        if len(rows) > 4:
            rows[4], rows[5] = t_in.T, t_out.T
    elif len(rows) > 4:
        rows[4:6] = 0.0
    settlement = Settlement(
        payments=payment[:n].T,
        agent_own=own[:n].T,
        agent_utility=utility[:n].T,
        principal_own=own[n],
        principal_paid=payment[n],
        principal_utility=utility[n],
        welfare=welfare[n],
        transfers=transfers,
        transfer_in=t_in,
        transfer_out=t_out,
    )
    if ledger is not None:
        ledger._written = settlement
    return settlement


@functools.lru_cache(maxsize=16)
def _signs(n_agents: int) -> np.ndarray:
    """+1 for every agent, -1 for the principal: the sign of each party's payment in its utility."""
    signs = np.ones((n_agents + 1, 1))
    signs[n_agents] = -1.0
    signs.flags.writeable = False
    return signs


def _ledger_rows(num_envs: int, n_agents: int, transfers: bool) -> np.ndarray:
    return np.zeros((len(STEP_KEYS) + (2 if transfers else 0), n_agents + 1, num_envs))


STEP_KEYS = ("own_reward", "payment", "utility", "welfare")
TRANSFER_KEYS = ("transfer_in", "transfer_out")


def _info_keys(step_keys: tuple[str, ...]) -> tuple[str, ...]:
    return step_keys + tuple(f"episode_{k}" for k in step_keys)


class Ledger:
    """Per-step and per-episode accounts of a batch, reported in every player's ``infos``.

    Keys (all floats, present from ``reset`` on so that TorchRL/BenchMARL info specs are stable),
    the same for every player: ``own_reward`` (``r(s, a)``; the principal's ``r_p(s, o)``),
    ``payment`` (received by an agent, paid by the principal), ``utility`` (own reward plus
    payment received or minus payment made, plus net transfers), ``welfare`` (the step's sum of own
    rewards, transfers cancel; the same in every player's infos); each also as ``episode_<key>``,
    the running total of the current episode. With ``transfers=True`` every player also has
    ``transfer_in`` and ``transfer_out`` (money received from / given to other players through
    transfers).

    Storage is one table ``entries [2K, P, B]``: the K step keys, then their episode totals, over the
    ``P = N + 1`` parties (agents, then the principal at index ``N``) and the batch, so recording a
    step and reading one environment's infos are one array operation each, and every row is
    contiguous over the batch.
    """

    def __init__(self, num_envs: int, n_agents: int, transfers: bool = False) -> None:
        self.num_envs, self.n_agents, self.transfers = num_envs, n_agents, transfers
        self.keys = STEP_KEYS + (TRANSFER_KEYS if transfers else ())
        self.info_keys = _info_keys(self.keys)
        self._k = len(self.keys)
        self.entries = np.zeros((2 * self._k, n_agents + 1, num_envs))
        self._written: Settlement | None = None

    # backwards-compatible names of the key tuples
    @property
    def agent_info_keys(self) -> tuple[str, ...]:
        return self.info_keys

    @property
    def principal_info_keys(self) -> tuple[str, ...]:
        return self.info_keys

    def step_entries(self) -> np.ndarray:
        """View of the step entries ``[K, P, B]`` (:func:`settle` writes them)."""
        return self.entries[: self._k]

    def clear_step(self) -> None:
        self.entries[: self._k] = 0.0

    def reset(self, env_idx: np.ndarray | None = None) -> None:
        """Zero the step entries and episode totals (of ``env_idx`` only, or of every env)."""
        if env_idx is None:
            self.entries[...] = 0.0
        else:
            self.entries[:, :, env_idx] = 0.0

    def record(self, s: Settlement) -> None:
        """Make ``s`` this step's accounts and add it to the episode totals."""
        k, n = self._k, self.n_agents
        if s is not self._written:  # settled elsewhere: copy it in
            step = self.entries[:k]
            step[0, :n], step[0, n] = s.agent_own.T, s.principal_own
            step[1, :n], step[1, n] = s.payments.T, s.principal_paid
            step[2, :n], step[2, n] = s.agent_utility.T, s.principal_utility
            step[3] = s.welfare
            if self.transfers:
                if s.transfer_in is None:
                    step[4:6] = 0.0
                else:
                    step[4], step[5] = s.transfer_in.T, s.transfer_out.T
        self._written = None
        self.entries[k:] += self.entries[:k]

    def snapshot(self) -> np.ndarray:
        """A copy of the ledger's storage (for :meth:`restore`, pickling and deepcopy)."""
        return self.entries.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        """Load storage taken by :meth:`snapshot`."""
        self.entries[...] = snapshot

    def copy_rows(self) -> list[np.ndarray]:
        """A copy of every key's row ``[P, B]`` (for infos that outlive the step). One array per key,
        not one for the whole table: large single allocations would go to ``mmap`` and page-fault
        at every step."""
        return [row.copy() for row in self.entries]

    def party_info(self, party: int, table: Any = None) -> dict[str, np.ndarray]:
        """Arrays ``[B]`` per key for party ``party`` (agent index, or ``n_agents`` for the principal),
        as views into ``table`` (:meth:`copy_rows`, or a copy of :attr:`entries`; default: the live
        entries)."""
        table = self.entries if table is None else table
        return {k: table[j][party] for j, k in enumerate(self.info_keys)}

    def agent_info(self, i: int, table: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self.party_info(i, table)

    def principal_info(self, table: np.ndarray | None = None) -> dict[str, np.ndarray]:
        return self.party_info(self.n_agents, table)

    def rows_at(self, env_index: int) -> list[list[float]]:
        """Every party's values (in ``info_keys`` order) in environment ``env_index``, as Python floats."""
        return self.entries[:, :, env_index].T.tolist()


# --------------------------------------------------------------------------- hierarchies
@dataclass
class HierarchySettlement:
    """Money and rewards of one step of a hierarchy of contracts, per env (leading axis B).

    Every node is an agent of its parent and a principal to its children (trees of principals).
    """

    received: np.ndarray  # [B, N] what each node receives from its parent (0 for roots)
    paid: np.ndarray  # [B, N] what each node pays its children in total
    own: np.ndarray  # [B, N] own (pre-transfer) rewards
    utility: np.ndarray  # [B, N] own + received - paid
    welfare: np.ndarray  # [B] sum of own rewards (transfers cancel)


def settle_hierarchy(contracts: np.ndarray, outcomes: np.ndarray, own: np.ndarray, parents) -> HierarchySettlement:
    """Settle a step in which each node is paid by its parent according to its own contract.

    The per-edge payment is exactly :func:`settle`'s (the entry of the node's contract for its
    realised outcome); this adds the aggregation over a forest of principals.

    Args:
        contracts: ``[B, N, O]`` validated offers; row ``v`` is the offer of ``parents[v]`` to ``v``
            (ignored for roots).
        outcomes: ``[B, N]`` realised outcome index per node (its action for observed-action contracts).
        own: ``[B, N]`` own rewards.
        parents: ``[N]`` parent index of every node, ``-1`` for a root.
    """
    parents = np.asarray(parents, dtype=np.int64)
    num_envs, n_nodes = own.shape
    if parents.shape != (n_nodes,) or np.any((parents < -1) | (parents >= n_nodes)):
        raise ValueError(f"parents must be {n_nodes} indices in [-1, {n_nodes - 1}], got {parents.tolist()}")
    children = np.flatnonzero(parents >= 0)
    edge = settle(contracts[:, children], outcomes[:, children], own[:, children], np.zeros(num_envs), False)
    received = np.zeros((num_envs, n_nodes))
    received[:, children] = edge.payments
    incidence = np.zeros((n_nodes, n_nodes))  # [child, parent]
    incidence[children, parents[children]] = 1.0
    paid = received @ incidence
    return HierarchySettlement(received, paid, own, own + received - paid, own.sum(axis=1))


HIERARCHY_LEDGER_KEYS = ("own_reward", "payment_received", "payment_paid", "utility", "welfare")
HIERARCHY_INFO_KEYS = _info_keys(HIERARCHY_LEDGER_KEYS)


class HierarchyLedger:
    """:class:`Ledger` of a hierarchy: per node ``own_reward``, ``payment_received``, ``payment_paid``,
    ``utility`` and the env's ``welfare``, each also as ``episode_<key>`` (all floats, present from
    ``reset`` on). One table ``node [B, N, 10]`` whose last axis follows ``info_keys`` (step
    columns first, then the episode totals), like :class:`Ledger`'s tables."""

    def __init__(self, num_envs: int, n_nodes: int) -> None:
        self.num_envs, self.n_nodes = num_envs, n_nodes
        self.info_keys = HIERARCHY_INFO_KEYS
        self.node = np.zeros((num_envs, n_nodes, len(self.info_keys)))
        self._n = len(HIERARCHY_LEDGER_KEYS)

    def clear_step(self) -> None:
        self.node[..., : self._n] = 0.0

    def reset(self, env_idx: np.ndarray | None = None) -> None:
        """Zero the step entries and episode totals (of ``env_idx`` only, or of every env)."""
        if env_idx is None:
            self.node[...] = 0.0
        else:
            self.node[env_idx] = 0.0

    def record(self, s: HierarchySettlement) -> None:
        step = self.node[..., : self._n]
        step[..., 0], step[..., 1], step[..., 2], step[..., 3] = s.own, s.received, s.paid, s.utility
        step[..., 4] = s.welfare[:, None]
        self.node[..., self._n :] += step

    def snapshot(self) -> np.ndarray:
        return self.node.copy()

    def restore(self, snapshot: np.ndarray) -> None:
        self.node[...] = snapshot

    def node_info(self, i: int) -> dict[str, np.ndarray]:
        """Arrays ``[B]`` per key for node ``i`` (views into the ledger)."""
        return {k: self.node[:, i, j] for j, k in enumerate(self.info_keys)}
