"""Exact Coin Game optimum: centralised welfare by expectimax dynamic programming, and upper bounds.

The solvers depend only on :class:`~contract_envs.games.coin_game.CoinGameRules` (a frozen table of
rule values) and re-derive the dynamics from the rules documented in the environment's docstring:
toroidal ``G x G`` grid, move table (0 right, 1 left, 2 down, 3 up, 4 stay), coins (``"cycle"``,
``"random"``, ``"per_agent"``), spawn rule (``spawn_on_agents``), start rule (``start_overlap``), tie
rules (``"all"``, ``"first"``, ``"random"``), rewards (own / other / owner penalty / asymmetric bonus)
and inner-episode board redraws (``inner_episode_length``).

**Exact welfare optimum** (:func:`solve_coin_game_welfare`, two agents). The state at the start of
a round is (agent_0's cell, agent_1's cell, coin cell(s), coin colour) and the round index. A
centralised controller picks the joint action maximising the expected sum of the agents' own
rewards over the remaining rounds (payments are transfers and are not welfare). Backward
induction over rounds ``t = H-1, ..., 0``:

* ``U_t(n0, n1, coins)``: the value of the *post-move* state (agents already on cells ``n0, n1``):
  the expected welfare of the landings (tie rule; a random tie's winner only changes who is paid,
  not the next state) plus the expected value ``V_{t+1}`` of the next state (a taken coin respawns
  uniformly on the allowed cells with its next colour; after a round that ends an inner episode
  the continuation is ``E_{s ~ start}[V_{t+1}(s)]``, the board being redrawn).
* ``V_t(a0, a1, coins) = max_{x, y} U_t(move(a0, x), move(a1, y), coins)``. The moves are
  deterministic, so the maximum over the ``A^2`` joint actions separates into two maxima over
  ``A`` actions: ``max_x max_y`` (first over agent_1's moves for every agent_0 cell, then over
  agent_0's).
* ``W* = E_{s ~ start}[V_0(s)]`` with the start distribution of the rules (agents on distinct or
  independent uniform cells, coins by the spawn rule, first colour uniform).

Per round this costs ``O(S A)`` for ``S`` states (``S = 2 G^6`` with one coin, ``G^8`` with
per-agent coins); the 7x7 ``parl`` preset has 235,298 states x 50 rounds. No symmetry is used.

**Principal.** The principal's reward is ``welfare_weight * sum_i r_i - payments`` with
non-negative payments, and contracts do not change the game's dynamics, so for *any* behaviour of
the agents its expected return is at most ``welfare_weight * W*``
(:meth:`CoinGameSolution.principal_upper_bound`). Its exact optimum against agents that best
respond to contracts *and* to each other (PARL's setting) depends on equilibrium selection among
learning agents and is not computed. It is computed exactly against the environment's documented
default agents, :class:`~contract_envs.games.coin_game.SelfishCoinAgent` (the agents of
``contract_envs/CoinGamePrincipal-v0``; :func:`solve_coin_game_principal`): such an agent takes the
lowest-index maximiser of ``value(a) + payment(a)``, so the cheapest contract that makes it take
``a`` pays ``gap(a) = max_b value(b) - value(a)`` on ``a`` (plus an arbitrarily small amount when a
lower-index action ties: the optimum is a supremum), and the principal's problem is the same DP
with reward ``welfare_weight * welfare - gap_0(a_0) - gap_1(a_1)``, still separable per agent.

**Upper bound for any number of agents and any grid** (:func:`coin_game_welfare_upper_bound`).
A *spawn-distance relaxation*. Take a coin slot (the single coin, or coin ``k`` of
``"per_agent"``) that has just spawned on cell ``c`` with colour ``k`` while the agents stand on
cells ``X = (x_0, ..., x_{N-1})``, ``h`` rounds left. An agent moves at most one step (toroidal
Manhattan distance ``d``) per round and a landing needs a round, so a set ``L`` of agents can land
on the coin together no earlier than ``tau_L = max(1, max_{j in L} d(x_j, c))`` rounds later; that
first landing yields ``w(L, k)`` in expectation (the tie rule's welfare; a random winner does not
change the next state), the coin respawns, and what follows is again a spawn. Letting the agents
stand anywhere at every spawn gives, with ``B'_k`` the bound for the next colour (cycle: ``B_{k+1}``;
random: the mean over colours; per-agent coins: ``B_k``),

``B_k(h) = max_X E_{c ~ spawn(X)}[ max(0, max_L 1{tau_L <= h} (w(L, k) + B'_k(h - tau_L))) ]``,

``B_k(0) = 0``. By induction over ``h``, ``B_k`` is nondecreasing and bounds the expected welfare
that slot yields after a spawn under *any* policy (the first landing comes at some round
``>= tau_L`` with some set ``L``; the rest is bounded by ``B'_k`` of fewer rounds, at most
``B'_k(h - tau_L)``; the policy's placement ``X`` is at best the maximising one). The game's start
is such a spawn (agents placed, coin(s) drawn by the spawn rule, first colour uniform), slots add
up, and inner episodes restart from a start, so ``W* <= sum_slots mean_k B_k(H)`` (summed over
inner episodes). ``method="configurations"``: ``max_X`` over every placement of the labelled
agents up to translation (``G^(2N-2)`` placements, grouped by their spawn distributions);
``method="balls"`` (any size, a little weaker): landings with the coin's owner need
``tau >= max(1, d_owner)``, landings without it ``tau >= max(1, min_{j != owner} d_j)``; the
expectation of the larger of the two (nonincreasing) best values is at most
``int_0^inf min(1, P(tau_own <= a(u)) + P(tau_oth <= b(u))) du``, with the union bounds
``P(d_owner <= r) <= (|ball(r)| - e) / (G^2 - e N)`` and
``P(d_oth <= r) <= (N - 1)(|ball(r)| - e) / (G^2 - e N)`` (``e = 1`` when coins never spawn on
agents). It is never below ``"configurations"``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from contract_envs.games.coin_game import CoinGameRules

#: (row, column) steps of actions 0..4: right, left, down, up, stay (the documented move table).
MOVE_STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0), (0, 0))
DEFAULT_MAX_TABLE_ENTRIES = 50_000_000
DEFAULT_MAX_CONFIGURATIONS = 300_000


# --------------------------------------------------------------------------- rules -> tables
def _move_table(rules: CoinGameRules) -> np.ndarray:
    """``[cell, action] -> cell`` on the toroidal grid (cells ``row * G + col``)."""
    g = rules.grid_size
    rows, cols = np.divmod(np.arange(g * g), g)
    steps = np.array(MOVE_STEPS[: rules.n_actions])
    return ((rows[:, None] + steps[:, 0]) % g) * g + (cols[:, None] + steps[:, 1]) % g


def _distance_table(grid_size: int) -> np.ndarray:
    """Toroidal Manhattan distance ``[cell, cell]``."""
    g = grid_size
    rows, cols = np.divmod(np.arange(g * g), g)
    dr = np.abs(rows[:, None] - rows[None, :])
    dc = np.abs(cols[:, None] - cols[None, :])
    return np.minimum(dr, g - dr) + np.minimum(dc, g - dc)


def picker_welfare(rules: CoinGameRules, picker: int, colour: int) -> float:
    """Welfare (sum of all agents' rewards) when agent ``picker`` takes a coin of ``colour``."""
    if picker == colour:
        return rules.own_coin_reward + (rules.asymmetric_bonus if picker == 0 else 0.0)
    return rules.other_coin_reward - rules.owner_penalty


def landing_welfare(rules: CoinGameRules) -> np.ndarray:
    """``[2^N, N]``: expected welfare of one coin of each colour when the agents in the bit mask land on it.

    ``"all"``: every lander is credited; ``"first"``: the lowest-indexed lander; ``"random"``: the
    mean over the landers (a uniform winner). Mask 0 (nobody lands) is 0.
    """
    n = rules.n_agents
    table = np.zeros((2**n, n))
    for mask in range(1, 2**n):
        landers = [j for j in range(n) if mask >> j & 1]
        for colour in range(n):
            each = [picker_welfare(rules, j, colour) for j in landers]
            if rules.tie_rule == "all":
                table[mask, colour] = sum(each)
            elif rules.tie_rule == "first":
                table[mask, colour] = each[0]
            else:
                table[mask, colour] = sum(each) / len(each)
    return table


def _round_ends_inner_episode(rules: CoinGameRules, t: int) -> bool:
    """Whether the board is redrawn after round ``t`` (0-based) without the episode ending."""
    length = rules.inner_episode_length
    return length is not None and (t + 1) % int(length) == 0 and t + 1 < rules.horizon


def _state_shape(rules: CoinGameRules) -> tuple[int, ...]:
    c = rules.grid_size**2
    return (c, c, c, c) if rules.coins == "per_agent" else (c, c, c, rules.n_agents)


def _state_axes(rules: CoinGameRules) -> tuple[str, ...]:
    if rules.coins == "per_agent":
        return ("agent_0 cell", "agent_1 cell", "colour-0 coin cell", "colour-1 coin cell")
    return ("agent_0 cell", "agent_1 cell", "coin cell", "coin colour")


def _check_exact(rules: CoinGameRules, store_values: bool, max_table_entries: int) -> int:
    if not isinstance(rules, CoinGameRules):
        raise ValueError(f"rules must be a CoinGameRules, got {type(rules).__name__}")
    if rules.n_agents != 2:
        raise ValueError(
            f"n_agents={rules.n_agents}: the exact Coin Game solver handles n_agents=2 only; use "
            "coin_game_welfare_upper_bound(rules) for an upper bound on welfare"
        )
    n_states = math.prod(_state_shape(rules))
    tables = rules.horizon + 1 if store_values else 4
    if n_states * tables > max_table_entries:
        raise ValueError(
            f"grid_size={rules.grid_size} with coins={rules.coins!r} has {n_states:,} states per round; x {tables} "
            f"value tables = {n_states * tables:,} entries > max_table_entries={max_table_entries:,} "
            "(raise max_table_entries, pass store_values=False to keep only the current tables, or use "
            "coin_game_welfare_upper_bound(rules))"
        )
    return n_states


# --------------------------------------------------------------------------- the model
class _Dynamics:
    """Vectorised transition model of the two-agent game on the full state table."""

    def __init__(self, rules: CoinGameRules) -> None:
        self.rules = rules
        g = rules.grid_size
        self.n_cells = c = g * g
        self.n_actions = rules.n_actions
        self.move = _move_table(rules)  # [C, A]
        self.per_agent = rules.coins == "per_agent"
        self.shape = _state_shape(rules)
        self.exclude_agents = not rules.spawn_on_agents
        ix, iy = np.arange(c)[:, None], np.arange(c)[None, :]
        self.ix, self.iy = ix, iy
        self.distinct = ix != iy  # [C, C] agents on different cells
        self.n_free = (c - 1 - self.distinct) if self.exclude_agents else np.full((c, c), c)
        wtab = landing_welfare(rules)  # [4, 2]
        cells = np.arange(c)
        if self.per_agent:
            landers0 = ((ix[..., None] == cells) + 2 * (iy[..., None] == cells))[..., None]  # [C, C, C0, 1]
            landers1 = landers0.reshape(c, c, 1, c)  # [C, C, 1, C1]
            self.reward = wtab[landers0, 0] + wtab[landers1, 1]
            self.taken0, self.taken1 = landers0 > 0, landers1 > 0
        else:
            landers = (ix[..., None] == cells) + 2 * (iy[..., None] == cells)  # [C, C, C]
            self.reward = wtab[landers]  # [C, C, C, N]
            self.taken = (landers > 0)[..., None]
            self.next_colour = (np.arange(rules.n_agents) + 1) % rules.n_agents
        self.start = self._start_distribution()

    def _spawn_probs(self) -> np.ndarray:
        """``[C, C, C]``: probability that a spawning coin lands on cell c given the agents' cells."""
        c = self.n_cells
        if not self.exclude_agents:
            return np.full((c, c, c), 1.0 / c)
        cells = np.arange(c)
        allowed = (cells != self.ix[..., None]) & (cells != self.iy[..., None])
        return allowed / self.n_free[..., None]

    def _start_distribution(self) -> np.ndarray:
        """Probability of every start state (agents by ``start_overlap``, coins by the spawn rule)."""
        r, c = self.rules, self.n_cells
        if r.start_overlap:
            agents = np.full((c, c), 1.0 / c**2)
        else:
            agents = self.distinct / (c * (c - 1))
        spawn = self._spawn_probs()
        if self.per_agent:
            return agents[..., None, None] * spawn[..., :, None] * spawn[..., None, :]
        return np.repeat((agents[..., None] * spawn)[..., None] / r.n_agents, r.n_agents, axis=3)

    def expected_start(self, values: np.ndarray) -> float:
        return float(np.sum(self.start * values))

    def _spawn_mean(self, table: np.ndarray, coin_axis: int) -> np.ndarray:
        """Mean of ``table`` (axes agent_0 cell, agent_1 cell, ...) over the spawn distribution of the
        coin on ``coin_axis`` (2 or 3) given the agents' cells; that axis is removed."""
        total = table.sum(axis=coin_axis)
        if self.exclude_agents:
            ix, iy = self.ix, self.iy
            if coin_axis == 2:
                at0, at1 = table[ix, iy, ix], table[ix, iy, iy]
            else:  # advanced indices around a slice: result axes (agent_0, agent_1, axis 2)
                at0, at1 = table[ix, iy, :, ix], table[ix, iy, :, iy]
            extra = (1,) * (total.ndim - 2)
            total = total - at0 - np.where(self.distinct.reshape(self.distinct.shape + extra), at1, 0.0)
        return total / self.n_free.reshape(self.n_free.shape + (1,) * (total.ndim - 2))

    def post_move(self, next_values: np.ndarray | None, t: int, scale: float, start_value: float) -> np.ndarray:
        """``U_t``: value of every post-move state of round ``t`` given ``V_{t+1}`` (None: last round)."""
        reward = scale * self.reward
        if next_values is None:
            return reward.copy()
        if _round_ends_inner_episode(self.rules, t):
            return reward + start_value
        v = next_values
        if self.per_agent:
            new0 = self._spawn_mean(v, 2)  # [C, C, C1]: coin 0 respawned
            new1 = self._spawn_mean(v, 3)  # [C, C, C0]: coin 1 respawned
            new01 = self._spawn_mean(new1, 2)  # [C, C]: both respawned (independent draws)
            c = self.n_cells
            cont = np.where(self.taken1, new1.reshape(c, c, c, 1), v)
            cont = np.where(self.taken0, np.where(self.taken1, new01[:, :, None, None], new0[:, :, None, :]), cont)
            return reward + cont
        respawned = self._spawn_mean(v, 2)  # [C, C, colour of the new coin]
        if self.rules.coins == "cycle":
            after = respawned[:, :, self.next_colour]
        else:  # "random": the new colour is uniform
            after = np.broadcast_to(respawned.mean(axis=2, keepdims=True), respawned.shape)
        return reward + np.where(self.taken, after[:, :, None, :], v)

    def maximise(self, post: np.ndarray, costs: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
        """``V(a0, a1, coins) = max_{x, y} post(move(a0, x), move(a1, y), coins) - cost_0 - cost_1``."""
        move = self.move
        best = None
        for y in range(self.n_actions):  # agent_1's move, for every agent_0 cell
            cand = post[:, move[:, y]]
            if costs is not None:
                cand = cand - costs[1][None, ..., y]
            best = cand if best is None else np.maximum(best, cand)
        out = None
        for x in range(self.n_actions):
            cand = best[move[:, x]]
            if costs is not None:
                cand = cand - costs[0][:, None, ..., x]
            out = cand if out is None else np.maximum(out, cand)
        return out


def selfish_agent_values(rules: CoinGameRules, agent: int, discount: float = 0.9) -> np.ndarray:
    """The documented score of :class:`~contract_envs.games.coin_game.SelfishCoinAgent` without payments.

    ``[own cell, coin cell(s)..., (coin colour,) action]``: the largest ``discount ** distance(cell
    after the action, coin) * worth`` over the coins (own colour: ``own_coin_reward`` (+
    ``asymmetric_bonus`` for agent_0); other colours: ``other_coin_reward``, unless an own coin shares
    the cell), and 0 from the empty cells.
    """
    c = rules.grid_size**2
    decay = float(discount) ** _distance_table(rules.grid_size)  # [C, C]
    dest = _move_table(rules)  # [C, A]
    own = rules.own_coin_reward + (rules.asymmetric_bonus if agent == 0 else 0.0)
    towards = decay[dest]  # [cell, A, coin cell]
    if rules.coins == "per_agent":  # [cell, c0, c1, A]
        mine = np.moveaxis(towards * own, 2, 1)  # [cell, own coin cell, A]
        theirs = np.moveaxis(towards * rules.other_coin_reward, 2, 1)  # [cell, other coin cell, A]
        same = np.eye(c, dtype=bool)[None, :, :, None]  # other coin on the own coin's cell: worth own
        if agent == 0:
            mine_b, theirs_b = mine[:, :, None, :], theirs[:, None, :, :]
        else:
            mine_b, theirs_b = mine[:, None, :, :], theirs[:, :, None, :]
        return np.maximum(np.maximum(mine_b, np.where(same, 0.0, theirs_b)), 0.0)
    worth = np.where(np.arange(rules.n_agents) == agent, own, rules.other_coin_reward)  # [colour]
    values = np.moveaxis(towards, 2, 1)[:, :, None, :] * worth[None, None, :, None]  # [cell, coin, colour, A]
    return np.maximum(values, 0.0)


def _min_payments(values: np.ndarray, payment_cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Cheapest payment on each action that makes a lowest-index argmax agent take it (a supremum where
    a lower-index action ties) and whether that action can be implemented within ``payment_cap``."""
    best = values.max(axis=-1, keepdims=True)
    gap = best - values
    first = values.argmax(axis=-1)[..., None]
    strict = first < np.arange(values.shape[-1])  # must beat a lower-index maximiser strictly
    implementable = (gap < payment_cap) | ((gap <= payment_cap) & ~strict)
    return gap, implementable


# --------------------------------------------------------------------------- solution
@dataclass
class CoinGameSolution:
    """Exact solution of a two-agent Coin Game (:func:`solve_coin_game_welfare` / ``_principal``).

    ``value``: the optimal expected objective from the start distribution (W*: welfare per episode,
    or the principal's supremum return). ``values [H + 1, *state_shape]``: the optimal value at the
    start of round ``t`` (``values[H] = 0``), or None with ``store_values=False``; ``state_axes``
    names the axes (cells are ``row * G + col``). Use :meth:`actions` (the greedy joint policy) and
    :meth:`joint_action_values`; for the principal, :meth:`contracts`.
    """

    rules: CoinGameRules
    objective: str
    value: float
    values: np.ndarray | None
    state_axes: tuple[str, ...]
    n_states: int
    solve_seconds: float
    welfare_weight: float = 1.0
    payment_cap: float | None = None
    agent_discount: float | None = None
    _model: Any = field(default=None, repr=False)
    _costs: Any = field(default=None, repr=False)
    _selfish: Any = field(default=None, repr=False)
    _post_cache: dict = field(default_factory=dict, repr=False)

    def principal_upper_bound(self, welfare_weight: float = 10.0) -> float:
        """``welfare_weight * W*``: the principal's expected return under any agents and contracts
        (payments are non-negative and do not change the game); welfare objective only."""
        if self.objective != "welfare":
            raise ValueError("principal_upper_bound is defined from the welfare solution (objective='welfare')")
        if welfare_weight < 0:
            raise ValueError(f"welfare_weight must be >= 0 for this bound, got {welfare_weight!r}")
        return float(welfare_weight) * self.value

    def _post_move(self, t: int) -> np.ndarray:
        if self.values is None:
            raise ValueError("this solution was computed with store_values=False; re-solve with store_values=True")
        h = self.rules.horizon
        if not 0 <= t < h:
            raise ValueError(f"round index t must be in [0, {h - 1}], got {t}")
        if t not in self._post_cache:
            self._post_cache.clear()
            nxt = None if t == h - 1 else self.values[t + 1]
            start = self._model.expected_start(self.values[t + 1])
            self._post_cache[t] = self._model.post_move(nxt, t, self.welfare_weight, start)
        return self._post_cache[t]

    def _coin_index(self, coin_cells: np.ndarray, coin_colours: np.ndarray | None) -> tuple[np.ndarray, ...]:
        coin_cells = np.asarray(coin_cells, dtype=np.int64).reshape(len(coin_cells), -1)
        if self.rules.coins == "per_agent":
            return coin_cells[:, 0], coin_cells[:, 1]
        if coin_colours is None:
            raise ValueError("coin_colours is needed with a single coin")
        return coin_cells[:, 0], np.asarray(coin_colours, dtype=np.int64).reshape(-1)

    def joint_action_values(
        self, t: int, agent_cells: np.ndarray, coin_cells: np.ndarray, coin_colours: np.ndarray | None = None
    ) -> np.ndarray:
        """``[B, A, A]``: optimal expected objective from round ``t`` after joint action ``(x, y)`` in the
        states given by ``agent_cells [B, 2]``, ``coin_cells [B, K]`` and ``coin_colours [B]`` (single coin)."""
        post = self._post_move(int(t))
        agents = np.asarray(agent_cells, dtype=np.int64)
        coins = self._coin_index(coin_cells, coin_colours)
        move = self._model.move
        n0, n1 = move[agents[:, 0]], move[agents[:, 1]]  # [B, A]
        q = post[(n0[:, :, None], n1[:, None, :]) + tuple(k[:, None, None] for k in coins)]
        if self._costs is not None:
            q = q - self._costs[0][(agents[:, 0],) + coins][:, :, None]
            q = q - self._costs[1][(agents[:, 1],) + coins][:, None, :]
        return q

    def actions(
        self, t: int, agent_cells: np.ndarray, coin_cells: np.ndarray, coin_colours: np.ndarray | None = None
    ) -> np.ndarray:
        """``[B, 2]``: an optimal joint action (ties: the lowest ``x * A + y``) in each given state of round ``t``."""
        q = self.joint_action_values(t, agent_cells, coin_cells, coin_colours)
        flat = q.reshape(len(q), -1).argmax(axis=1)
        return np.stack(np.divmod(flat, self._model.n_actions), axis=1)

    def contracts(
        self,
        actions: np.ndarray,
        agent_cells: np.ndarray,
        coin_cells: np.ndarray,
        coin_colours: np.ndarray | None = None,
        margin: float = 1e-6,
    ) -> np.ndarray:
        """``[B, 2, A]``: contracts that make :class:`SelfishCoinAgent` agents take ``actions [B, 2]``:
        ``gap + margin`` on the target action when it is not already the agent's choice (capped at
        ``payment_cap``), 0 elsewhere (principal objective only)."""
        if self._costs is None:
            raise ValueError("contracts are defined for the principal solution (solve_coin_game_principal)")
        actions = np.asarray(actions, dtype=np.int64)
        agents = np.asarray(agent_cells, dtype=np.int64)
        coins = self._coin_index(coin_cells, coin_colours)
        b, a = len(actions), self._model.n_actions
        out = np.zeros((b, 2, a))
        for i in range(2):
            values = self._selfish[i][(agents[:, i],) + coins]  # [B, A]
            chosen = values.argmax(axis=1)
            gap = values.max(axis=1) - values[np.arange(b), actions[:, i]]
            pay = np.where(chosen == actions[:, i], 0.0, np.minimum(gap + margin, self.payment_cap))
            out[np.arange(b), i, actions[:, i]] = pay
        return out


def _solve(
    rules: CoinGameRules,
    objective: str,
    scale: float,
    costs: tuple | None,
    store_values: bool,
    max_table_entries: int,
    extra: dict,
) -> CoinGameSolution:
    n_states = _check_exact(rules, store_values, max_table_entries)
    clock = time.perf_counter()
    model = _Dynamics(rules)
    h = rules.horizon
    values = np.empty((h + 1, *model.shape)) if store_values else None
    nxt = None  # V_{t+1}; None at the horizon (value 0)
    if values is not None:
        values[h] = 0.0
    for t in range(h - 1, -1, -1):
        start = model.expected_start(nxt) if nxt is not None else 0.0
        v = model.maximise(model.post_move(nxt, t, scale, start), costs)
        if values is not None:
            values[t] = v
        nxt = v
    value = model.expected_start(nxt)
    seconds = time.perf_counter() - clock
    return CoinGameSolution(
        rules, objective, value, values, _state_axes(rules), n_states, seconds, _model=model, _costs=costs, **extra
    )


def solve_coin_game_welfare(
    rules: CoinGameRules, *, store_values: bool = True, max_table_entries: int = DEFAULT_MAX_TABLE_ENTRIES
) -> CoinGameSolution:
    """Exact centralised welfare optimum W* of a two-agent Coin Game by expectimax DP (see the module doc).

    ``store_values=False`` keeps only the current tables (W* without the policy). Raises
    ``ValueError`` for ``n_agents != 2`` and when the value tables would exceed ``max_table_entries``
    float64 entries (use :func:`coin_game_welfare_upper_bound` there).
    """
    return _solve(rules, "welfare", 1.0, None, store_values, max_table_entries, {})


def solve_coin_game_principal(
    rules: CoinGameRules,
    *,
    welfare_weight: float = 10.0,
    payment_cap: float = 10.0,
    agent_discount: float = 0.9,
    store_values: bool = True,
    max_table_entries: int = DEFAULT_MAX_TABLE_ENTRIES,
) -> CoinGameSolution:
    """Exact optimal return (a supremum) of the principal against :class:`SelfishCoinAgent` agents.

    The principal's problem of ``contract_envs/CoinGamePrincipal-v0`` with its default agents: every
    round it may make each agent take any action ``a`` whose value gap ``max_b value(b) - value(a)``
    is within ``payment_cap``, at that cost; the DP maximises ``welfare_weight * welfare - payments``.
    Against other agents only the bound ``welfare_weight * W*`` holds (see the module doc).
    """
    if not np.isfinite(welfare_weight) or not np.isfinite(payment_cap) or payment_cap < 0:
        raise ValueError(
            f"welfare_weight and payment_cap must be finite, payment_cap >= 0; got {welfare_weight!r}, {payment_cap!r}"
        )
    if not 0.0 < agent_discount <= 1.0:
        raise ValueError(f"agent_discount must lie in (0, 1], got {agent_discount!r}")
    _check_exact(rules, store_values, max_table_entries)
    selfish = [selfish_agent_values(rules, i, agent_discount) for i in range(2)]
    costs = []
    for v in selfish:
        gap, ok = _min_payments(v, float(payment_cap))
        costs.append(np.where(ok, gap, np.inf))
    solution = _solve(
        rules,
        "principal",
        float(welfare_weight),
        tuple(costs),
        store_values,
        max_table_entries,
        dict(
            welfare_weight=float(welfare_weight),
            payment_cap=float(payment_cap),
            agent_discount=float(agent_discount),
            _selfish=selfish,
        ),
    )
    return solution


# --------------------------------------------------------------------------- observations
def coin_game_state_from_observation(rules: CoinGameRules, grid: np.ndarray) -> tuple[np.ndarray, ...]:
    """Decode agent_0's grids ``[B, *grid shape]`` (two agents) into (agent cells ``[B, 2]``, coin cells
    ``[B, K]``, coin colours ``[B, K]``), by the documented channel layout of every ``obs_view`` and
    ``obs_layout``. With ``"egocentric"`` the state is translated (agent_0 at the centre), which the
    toroidal game does not distinguish."""
    if rules.n_agents != 2:
        raise ValueError(f"n_agents={rules.n_agents}: decoding is defined for n_agents=2")
    arr = np.asarray(grid)
    b, c = arr.shape[0], rules.grid_size**2
    if rules.obs_layout == "chw":
        planes = arr.reshape(b, -1, c)
    else:  # "hwc" and "flat" (the hwc array raveled)
        planes = np.swapaxes(arr.reshape(b, c, -1), 1, 2)
    # for two agents, agent_0's "swap" view and the "shared" view are both [agent_0, agent_1, colour 0, colour 1]
    if np.any(planes[:, :2].sum(axis=2) != 1):
        raise ValueError("each agent plane must hold exactly one agent")
    agents = planes[:, :2].argmax(axis=2)
    if rules.coins == "per_agent":
        coins = planes[:, 2:4].argmax(axis=2)
        return agents, coins, np.tile(np.arange(2), (b, 1))
    coin_planes = planes[:, 2:4].reshape(b, -1)
    where = coin_planes.argmax(axis=1)
    colours, cells = np.divmod(where, c)
    return agents, cells[:, None], colours[:, None]


# --------------------------------------------------------------------------- upper bound
def _ball_sizes(grid_size: int) -> np.ndarray:
    """``|ball(r)|`` on the torus for r = 0..max distance."""
    d = _distance_table(grid_size)[0]
    return np.cumsum(np.bincount(d))


class _PlacementRelaxation:
    """``max_X`` over every placement of the labelled agents (agent_0 translated to cell 0).

    ``matrix [distinct placements, distance vectors]``: the probability that the spawned coin lies at
    distances ``(d_0, ..., d_{N-1})`` from the agents; ``tau [vectors, lander sets]``: the earliest
    round a lander set can be on the coin, ``max(1, max_{j in L} d_j)``.
    """

    def __init__(self, rules: CoinGameRules, chunk_entries: int = 4_000_000) -> None:
        from scipy import sparse

        c, n = rules.grid_size**2, rules.n_agents
        dist = _distance_table(rules.grid_size)
        base = int(dist.max()) + 1
        placements = c ** (n - 1)
        step = max(1, chunk_entries // c)
        rows = []
        for first in range(0, placements, step):  # bounded memory: [chunk, C] codes at a time
            index = np.arange(first, min(first + step, placements))
            others = (index[:, None] // c ** np.arange(n - 1)) % c  # [P, N - 1]
            cells = np.concatenate([np.zeros((len(index), 1), dtype=np.int64), others], axis=1)
            code = np.zeros((len(index), c), dtype=np.int64)
            on_agent = np.zeros((len(index), c), dtype=bool)
            for j in range(n):
                d = dist[cells[:, j]]  # [P, C]
                code += d * base**j
                on_agent |= d == 0
            if not rules.spawn_on_agents:
                code[on_agent] = -1  # a coin never spawns there
            rows.append(np.unique(np.sort(code, axis=1), axis=0))  # placements with the same spawn law, once
        rows = np.unique(np.concatenate(rows), axis=0)
        valid = rows >= 0
        weight = 1.0 / valid.sum(axis=1)
        vectors, column = np.unique(rows[valid], return_inverse=True)
        row_index = np.nonzero(valid)[0]
        self.matrix = sparse.csr_matrix(
            (weight[row_index], (row_index, column.ravel())), shape=(len(rows), len(vectors))
        )
        d = (vectors[:, None] // base ** np.arange(n)) % base  # [D, N]
        member = (np.arange(1, 2**n)[:, None] >> np.arange(n)) & 1  # [L, N]
        self.tau = np.maximum(1, (d[:, None, :] * member[None]).max(axis=2))  # [D, L]
        self.welfare = landing_welfare(rules)[1:]  # [L, colour]

    def expected(self, h: int, k: int, after: np.ndarray) -> float:
        reach = self.tau <= h
        gain = np.where(reach, self.welfare[None, :, k] + after[np.where(reach, h - self.tau, 0)], 0.0)
        phi = np.maximum(gain.max(axis=1), 0.0)  # [D]
        return float(np.max(self.matrix @ phi))


class _BallRelaxation:
    """Union bounds on ball sizes, for any grid and number of agents (see the module doc).

    For a coin of colour k, landings with its owner (agent k) need ``tau_own = max(1, d_k)`` rounds,
    landings without it ``tau_oth = max(1, min_{j != k} d_j)``; with ``G_own``, ``G_oth`` the best
    (nonincreasing) values of each kind, ``E[max(G_own(tau_own), G_oth(tau_oth))] = int_0^inf
    P(G_own > u or G_oth > u) du <= int_0^inf min(1, P(tau_own <= a(u)) + P(tau_oth <= b(u))) du``,
    and ``P(d_own <= r) <= (|ball(r)| - e) / (G^2 - e N)``, ``P(d_oth <= r) <= (N - 1)(|ball(r)| - e) /
    (G^2 - e N)`` for every placement (e = 1 when coins never spawn on agents).
    """

    def __init__(self, rules: CoinGameRules) -> None:
        c, n = rules.grid_size**2, rules.n_agents
        balls = _ball_sizes(rules.grid_size).astype(np.float64)
        e = 0 if rules.spawn_on_agents else 1
        self.p_own = np.minimum(1.0, (balls - e) / (c - e * n))
        self.p_oth = np.minimum(1.0, (n - 1) * (balls - e) / (c - e * n))
        self.p_own[0] = self.p_oth[0] = 0.0  # tau >= 1
        self.r_max = len(balls) - 1
        table = landing_welfare(rules)[1:]  # [L, colour]
        member = (np.arange(1, 2**n)[:, None] >> np.arange(n)) & 1  # [L, N]
        self.w_own = np.array([table[member[:, k] == 1, k].max() for k in range(n)])
        self.w_oth = np.array([table[member[:, k] == 0, k].max() for k in range(n)])

    def expected(self, h: int, k: int, after: np.ndarray) -> float:
        tau = np.arange(1, self.r_max + 1)
        left = np.where(tau <= h, h - tau, 0)
        g_own = np.where(tau <= h, np.maximum(0.0, self.w_own[k] + after[left]), 0.0)
        g_oth = np.where(tau <= h, np.maximum(0.0, self.w_oth[k] + after[left]), 0.0)
        levels = np.unique(np.concatenate([g_own, g_oth, [0.0]]))  # sorted, from 0
        total = 0.0
        for low, level in zip(levels[:-1], levels[1:], strict=True):  # u in (low, level]
            a, b = int((g_own >= level).sum()), int((g_oth >= level).sum())  # largest tau with G > u
            total += (level - low) * min(1.0, self.p_own[a] + self.p_oth[b])
        return total


def _slot_bound(rules: CoinGameRules, relaxation, rounds: int) -> float:
    """Bound on the welfare from every coin slot over ``rounds`` rounds from a start (see the module doc)."""
    n = rules.n_agents
    slots = range(n) if rules.coins == "per_agent" else [None]
    total = 0.0
    for slot in slots:
        colours = [slot] if slot is not None else list(range(n))
        bound = np.zeros((rounds + 1, n))  # B_k(h): after a spawn of colour k with h rounds left
        for h in range(1, rounds + 1):
            for k in colours:
                if slot is not None:
                    after = bound[:, k]
                elif rules.coins == "cycle":
                    after = bound[:, (k + 1) % n]
                else:  # "random": the next colour is uniform
                    after = bound[:, colours].mean(axis=1)
                bound[h, k] = relaxation.expected(h, k, after)
        total += float(np.mean(bound[rounds, colours]))
    return total


def coin_game_welfare_upper_bound(
    rules: CoinGameRules, method: str = "auto", max_configurations: int = DEFAULT_MAX_CONFIGURATIONS
) -> float:
    """Proven upper bound on the expected welfare per episode of any policy, for any ``n_agents`` and grid.

    The spawn-distance relaxation of the module doc. ``method``: ``"configurations"`` (exact maximum
    over the ``G^(2N-2)`` placements of the agents up to translation; raises if there are more than
    ``max_configurations``), ``"balls"`` (union bounds on ball sizes, any size, a little weaker) or
    ``"auto"`` (the first when it fits).
    The principal's return is at most ``welfare_weight`` times this bound.
    """
    if not isinstance(rules, CoinGameRules):
        raise ValueError(f"rules must be a CoinGameRules, got {type(rules).__name__}")
    if method not in ("auto", "configurations", "balls"):
        raise ValueError(f"method must be 'auto', 'configurations' or 'balls', got {method!r}")
    placements = (rules.grid_size**2) ** (rules.n_agents - 1)
    if method == "configurations" and placements > max_configurations:
        raise ValueError(
            f"grid_size={rules.grid_size}, n_agents={rules.n_agents} gives {placements:,} agent placements > "
            f"max_configurations={max_configurations:,}; use method='balls'"
        )
    if method == "balls" or placements > max_configurations:
        relaxation = _BallRelaxation(rules)
    else:
        relaxation = _PlacementRelaxation(rules)
    h, length = rules.horizon, rules.inner_episode_length
    if length is None or int(length) >= h:
        return _slot_bound(rules, relaxation, h)
    full, rest = divmod(h, int(length))
    bound = full * _slot_bound(rules, relaxation, int(length))
    return bound + (_slot_bound(rules, relaxation, rest) if rest else 0.0)


__all__ = [
    "CoinGameSolution",
    "coin_game_state_from_observation",
    "coin_game_welfare_upper_bound",
    "landing_welfare",
    "picker_welfare",
    "selfish_agent_values",
    "solve_coin_game_principal",
    "solve_coin_game_welfare",
]
