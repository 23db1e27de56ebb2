"""Exact reference answers of the incentive-design environments (Escape Room, Prisoner's Dilemma, TaxLite).

Each answer has a closed form (where one exists) and an enumeration over the (small) strategy
space that the tests compare it with: Escape Room's 3^N one-step profiles, the 2x2 dilemma's four
outcomes, TaxLite's 11^4 labour profiles for every rate on the grid (vectorised numpy).

Ties (an indifferent player counts as best-responding) are within ``1e-9`` of the largest payoff
compared, so scaling every payoff by ``c`` leaves the equilibria unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract_envs.games.tax_economy import isoelastic_utility

LEVER, START, DOOR = 0, 1, 2
LOLA_PAYOFFS = (-1.0, -3.0, 0.0, -2.0)  # R, S, T, P
_RTOL = 1e-9  # payoffs within this fraction of the largest payoff compared tie


def _tie(*payoffs) -> float:
    """Tie tolerance relative to the payoffs' scale (0 when they are all 0: exact ties are ties)."""
    return _RTOL * max(float(np.abs(p).max(initial=0.0)) for p in payoffs)


# --------------------------------------------------------------------------- Escape Room
def escape_room_profiles(n_agents: int) -> np.ndarray:
    """All ``3^N`` joint actions, ``[3^N, N]``; row ``k`` has ``a_i = (k // 3^i) % 3``."""
    if not (1 <= n_agents <= 12):
        raise ValueError(f"enumeration supports 1 <= n_agents <= 12, got {n_agents}")
    k = np.arange(3**n_agents)
    return (k[:, None] // 3 ** np.arange(n_agents)) % 3


def escape_room_rewards(
    n_agents: int,
    min_at_lever: int,
    profiles: np.ndarray,
    positions: np.ndarray | None = None,
    door_reward: float = 10.0,
    move_cost: float = 1.0,
) -> np.ndarray:
    """Environment rewards ``[P, N]`` of joint actions ``profiles`` from ``positions`` (default: all at start)."""
    profiles = np.asarray(profiles)
    pos = np.full(n_agents, START) if positions is None else np.asarray(positions)
    door_open = (profiles == LEVER).sum(axis=-1) >= min_at_lever
    reward = np.where(profiles == pos, 0.0, -move_cost)
    return np.where(door_open[..., None] & (profiles == DOOR), door_reward, reward)


def _check_er(n_agents: int, min_at_lever: int) -> None:
    if not (1 <= min_at_lever <= n_agents):
        raise ValueError(f"need 1 <= min_at_lever <= n_agents, got N={n_agents}, M={min_at_lever}")


def escape_room_max_welfare(
    n_agents: int, min_at_lever: int, door_reward: float = 10.0, move_cost: float = 1.0
) -> float:
    """Closed form of the maximum social welfare: ``door_reward (N - M) - move_cost M`` (one step:
    M agents to the lever, the others through the door), or 0 (everyone stays) if that is larger."""
    _check_er(n_agents, min_at_lever)
    return max(door_reward * (n_agents - min_at_lever) - move_cost * min_at_lever, 0.0)


def escape_room_max_welfare_enumerated(
    n_agents: int, min_at_lever: int, door_reward: float = 10.0, move_cost: float = 1.0
) -> tuple[float, np.ndarray]:
    """Maximum welfare of one step from the start by enumerating all ``3^N`` joint actions."""
    _check_er(n_agents, min_at_lever)
    profiles = escape_room_profiles(n_agents)
    welfare = escape_room_rewards(n_agents, min_at_lever, profiles, None, door_reward, move_cost).sum(axis=1)
    best = int(np.argmax(welfare))
    return float(welfare[best]), profiles[best]


def escape_room_pure_equilibria(
    n_agents: int,
    min_at_lever: int,
    schedule=(0.0, 0.0, 0.0),
    strict: bool = False,
    door_reward: float = 10.0,
    move_cost: float = 1.0,
) -> np.ndarray:
    """Pure Nash equilibria ``[E, N]`` of the one-step game from the start when every agent is also
    paid ``schedule[a]`` (lever, start, door) for its action ``a``; ``strict``: every deviation loses."""
    _check_er(n_agents, min_at_lever)
    schedule = np.asarray(schedule, dtype=np.float64)
    profiles = escape_room_profiles(n_agents)
    payoff = escape_room_rewards(n_agents, min_at_lever, profiles, None, door_reward, move_cost) + schedule[profiles]
    powers = 3 ** np.arange(n_agents)
    idx = np.arange(len(profiles))
    stable = np.ones(len(profiles), dtype=bool)
    tie = _tie(payoff)
    for i in range(n_agents):
        for d in range(3):
            dev = idx + (d - profiles[:, i]) * powers[i]
            gain = payoff[dev, i] - payoff[:, i]
            moved = profiles[:, i] != d
            bad = (gain >= -tie) if strict else (gain > tie)
            stable &= ~(moved & bad)
    return profiles[stable]


def escape_room_optimal_profile(n_agents: int, min_at_lever: int) -> np.ndarray:
    """A welfare-optimal joint action: the first M agents to the lever, the others to the door."""
    _check_er(n_agents, min_at_lever)
    return np.where(np.arange(n_agents) < min_at_lever, LEVER, DOOR)


def escape_room_sustains_optimum(n_agents: int, min_at_lever: int, schedule, strict: bool = True) -> bool:
    """Whether per-action incentives ``schedule`` (lever, start, door) make the optimum an equilibrium."""
    eq = escape_room_pure_equilibria(n_agents, min_at_lever, schedule, strict=strict)
    target = escape_room_optimal_profile(n_agents, min_at_lever)
    return bool(np.any(np.all(eq == target, axis=1)))


def escape_room_min_lever_incentive(move_cost: float = 1.0) -> float:
    """Infimum of the lever incentive (start and door paid 0) that sustains the optimum: the optimum
    is a strict equilibrium iff the incentive is *above* ``move_cost`` (1): a pivotal lever agent
    compares ``-1 + tau`` with 0 for staying (and -1 for the then-shut door)."""
    return float(move_cost)


def escape_room_designer_return(
    n_agents: int,
    min_at_lever: int,
    lever_incentive: float,
    alpha: float = 1.0,
    door_reward: float = 10.0,
    move_cost: float = 1.0,
) -> float:
    """Designer return ``welfare - alpha * paid`` when the optimum is played and the M lever agents are paid."""
    welfare = door_reward * (n_agents - min_at_lever) - move_cost * min_at_lever
    return float(welfare - alpha * min_at_lever * lever_incentive)


def escape_room_best_designer_return(
    n_agents: int,
    min_at_lever: int,
    alpha: float = 1.0,
    values=None,
    door_reward: float = 10.0,
    move_cost: float = 1.0,
) -> float:
    """Best designer return ``welfare - alpha * paid`` over per-action schedules that sustain the
    optimum as a strict equilibrium, or 0 (no incentive: everyone stays) if better.

    ``values=None``: continuous schedules in ``[0, inf)``; the supremum ``10(N-M) - M - alpha M``
    (``10(N-M) - 2M`` for alpha = 1) is approached as the lever incentive decreases to 1 and is not
    attained. ``values``: a finite set (dual-RL's discrete ``{0, 1.1}``); all ``|values|^3``
    schedules are enumerated.
    """
    _check_er(n_agents, min_at_lever)
    if values is None:
        best = escape_room_designer_return(n_agents, min_at_lever, move_cost, alpha, door_reward, move_cost)
        return max(best, 0.0)
    values = np.asarray(values, dtype=np.float64)
    target = escape_room_optimal_profile(n_agents, min_at_lever)
    welfare = escape_room_rewards(n_agents, min_at_lever, target[None], None, door_reward, move_cost).sum()
    best = 0.0
    for schedule in np.array(np.meshgrid(values, values, values, indexing="ij")).reshape(3, -1).T:
        if escape_room_sustains_optimum(n_agents, min_at_lever, schedule, strict=True):
            best = max(best, float(welfare - alpha * schedule[target].sum()))
    return best


# --------------------------------------------------------------------------- Prisoner's Dilemma
def _pd(payoffs) -> tuple[float, float, float, float]:
    r, s, t, p = (float(v) for v in payoffs)
    if not all(np.isfinite([r, s, t, p])):
        raise ValueError(f"payoffs must be finite (R, S, T, P), got {payoffs!r}")
    return r, s, t, p


def pd_min_incentive_gap(payoffs=LOLA_PAYOFFS) -> float:
    """Smallest ``tau_C - tau_D`` that makes cooperation (weakly) dominant: ``max(T - R, P - S)``
    (1 for LOLA's payoffs)."""
    r, s, t, p = _pd(payoffs)
    return max(t - r, p - s)


def pd_cooperation_dominant(tau_c: float, tau_d: float, payoffs=LOLA_PAYOFFS) -> bool:
    """Enumeration: is C a weakly dominant action when C is paid ``tau_c`` and D ``tau_d``?"""
    r, s, t, p = _pd(payoffs)
    mine = np.array([[r, s], [t, p]]) + np.array([[tau_c], [tau_d]])  # [own action, other's action]
    return bool(np.all(mine[0] >= mine[1] - _tie(mine)))


def reward_transfer_threshold(payoffs=LOLA_PAYOFFS) -> float:
    """Willis et al.'s symmetric self-interest level for a 2x2 dilemma: the largest kept fraction
    ``s`` for which cooperation is dominant, ``min((R-S)/(T-S), (T-P)/(T-S))`` (2/3 for LOLA's
    payoffs, 0.6 for (3, 0, 5, 1)); requires ``T > S``."""
    r, s, t, p = _pd(payoffs)
    if not t > s:
        raise ValueError(f"the formula needs T > S, got T={t}, S={s}")
    return min((r - s) / (t - s), (t - p) / (t - s))


def reward_transfer_cooperation_dominant(keep_fraction: float, payoffs=LOLA_PAYOFFS) -> bool:
    """Enumeration: with each agent keeping ``keep_fraction`` of its reward and giving the rest to the
    other, is C weakly dominant?"""
    r, s, t, p = _pd(payoffs)
    base = np.array([[r, s], [t, p]])  # [own, other] -> own reward
    shared = keep_fraction * base + (1.0 - keep_fraction) * base.T  # the other's reward is base[other, own]
    return bool(np.all(shared[0] >= shared[1] - _tie(shared)))


def reward_transfer_grid_search(grid, payoffs=LOLA_PAYOFFS) -> float | None:
    """The largest kept fraction on ``grid`` under which cooperation is dominant (None if none)."""
    ok = [float(s) for s in grid if reward_transfer_cooperation_dominant(float(s), payoffs)]
    return max(ok) if ok else None


def pd_best_designer_return(alpha: float = 1.0, payoffs=LOLA_PAYOFFS) -> float:
    """Per-step designer return: ``max(2P, 2R - 2 alpha gap)``: pay both agents the minimal gap on C
    (tau_D = 0) or do nothing (mutual defection). LOLA payoffs: ``-2 - 2 alpha`` vs ``-4``."""
    r, _, _, p = _pd(payoffs)
    return max(2 * p, 2 * r - 2 * alpha * pd_min_incentive_gap(payoffs))


# --------------------------------------------------------------------------- TaxLite
TAXLITE_SKILLS = (1.0, 2.0, 4.0, 8.0)


def taxlite_rate_grid(step: float = 0.05) -> np.ndarray:
    """Flat rates ``0, step, ..., 1`` (rounded to avoid float drift)."""
    return np.round(np.arange(0.0, 1.0 + step / 2, step), 10)


def taxlite_coin(labour: np.ndarray, rate, skills=TAXLITE_SKILLS) -> np.ndarray:
    """Post-tax coin ``(1 - t) z + t mean(z)`` for labour ``[..., N]``."""
    z = np.asarray(skills, dtype=np.float64) * labour
    return (1.0 - rate) * z + rate * z.mean(axis=-1, keepdims=True)


def productivity_and_equality(coin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Productivity ``sum c`` and equality ``1 - G n / (n - 1)`` along the last axis."""
    from contract_envs.games._incentive_common import gini_equality

    return coin.sum(axis=-1), gini_equality(coin)


def taxlite_equilibria(
    rate: float,
    skills=TAXLITE_SKILLS,
    max_labour: int = 10,
    labour_cost: float = 0.8,
    eta: float = 0.23,
) -> np.ndarray:
    """All pure Nash equilibria ``[E, N]`` in labour at flat ``rate``, by enumerating every profile
    and every unilateral deviation (vectorised: ``(L+1)^N`` profiles x N agents x ``L+1`` deviations)."""

    skills = np.asarray(skills, dtype=np.float64)
    n, levels = skills.size, int(max_labour) + 1
    if levels**n > 5_000_000:
        raise ValueError(f"{levels}^{n} profiles are too many to enumerate")
    k = np.arange(levels**n)
    profiles = (k[:, None] // levels ** np.arange(n)) % levels  # [P, N]
    z = skills * profiles
    total = z.sum(axis=1, keepdims=True)
    own = isoelastic_utility(taxlite_coin(profiles, rate, skills), profiles, eta, labour_cost)  # [P, N]
    d = np.arange(levels)
    z_dev = skills[None, :, None] * d  # [1, N, D]
    total_dev = total[:, :, None] - z[:, :, None] + z_dev  # [P, N, D]
    coin_dev = (1.0 - rate) * z_dev + rate * total_dev / n
    u_dev = isoelastic_utility(coin_dev, d, eta, labour_cost)  # [P, N, D]
    stable = np.all(own >= u_dev.max(axis=2) - _tie(own, u_dev), axis=1)
    return profiles[stable]


@dataclass(frozen=True)
class TaxLiteSolution:
    """Equilibrium of TaxLite at every rate of a grid, and the planner's optimum."""

    rates: np.ndarray  # [R]
    labour: np.ndarray  # [R, N] the unique equilibrium labour at each rate
    n_equilibria: np.ndarray  # [R] number of pure equilibria found (1 everywhere for the defaults)
    productivity: np.ndarray  # [R]
    equality: np.ndarray  # [R]
    objective: np.ndarray  # [R] productivity x equality
    best_rate: float
    best_objective: float

    def at(self, rate: float) -> int:
        """Index of ``rate`` on the grid."""
        i = int(np.argmin(np.abs(self.rates - rate)))
        if abs(self.rates[i] - rate) > 1e-9:
            raise ValueError(f"rate {rate} is not on the grid")
        return i


def taxlite_solve(
    rates=None,
    skills=TAXLITE_SKILLS,
    max_labour: int = 10,
    labour_cost: float = 0.8,
    eta: float = 0.23,
) -> TaxLiteSolution:
    """Equilibrium labour for every rate (default grid 0, 0.05, ..., 1) and the best rate for the
    planner's productivity x equality. Defaults: t* = 0.75 (labour (0, 0, 9, 10), 93.0); local
    optimum 72.5 at 0.25; 59.33 at 0. Raises if some rate has no pure equilibrium."""
    rates = taxlite_rate_grid() if rates is None else np.asarray(rates, dtype=np.float64)
    labour, counts = [], []
    for rate in rates:
        eq = taxlite_equilibria(float(rate), skills, max_labour, labour_cost, eta)
        if len(eq) == 0:
            raise ValueError(f"no pure equilibrium at rate {rate}")
        counts.append(len(eq))
        coin = taxlite_coin(eq, rate, skills)
        prod, equal = productivity_and_equality(coin)
        labour.append(eq[int(np.argmax(prod * equal))])  # the planner's favourite if several
    labour = np.array(labour)
    coin = taxlite_coin(labour, rates[:, None], skills)
    prod, equal = productivity_and_equality(coin)
    objective = prod * equal
    best = int(np.argmax(objective))
    return TaxLiteSolution(
        rates, labour, np.array(counts), prod, equal, objective, float(rates[best]), float(objective[best])
    )


def _favourite_equilibrium(rate: float, skills, max_labour, labour_cost, eta) -> tuple[tuple[int, ...], float]:
    """The planner's favourite pure equilibrium at ``rate`` (labour, productivity x equality)."""
    eq = taxlite_equilibria(rate, skills, max_labour, labour_cost, eta)
    if len(eq) == 0:
        raise ValueError(f"no pure equilibrium at rate {rate}")
    prod, equal = productivity_and_equality(taxlite_coin(eq, rate, skills))
    best = int(np.argmax(prod * equal))
    return tuple(int(x) for x in eq[best]), float((prod * equal)[best])


@dataclass(frozen=True)
class TaxLiteContinuousOptimum:
    """The planner's optimum over every flat rate in [0, 1] (not only a grid)."""

    rate: float  # the best rate (a breakpoint of the equilibrium labour, to ``tol``)
    objective: float  # productivity x equality there (the supremum over the continuum)
    labour: np.ndarray  # [N] the equilibrium labour it is attained with
    breakpoints: np.ndarray  # rates at which the (favourite) equilibrium labour changes


def taxlite_continuous_optimum(
    skills=TAXLITE_SKILLS,
    max_labour: int = 10,
    labour_cost: float = 0.8,
    eta: float = 0.23,
    scan_step: float = 0.01,
    tol: float = 1e-10,
) -> TaxLiteContinuousOptimum:
    """The best flat rate over the whole interval [0, 1]: the planner's action is continuous, the grid of
    :func:`taxlite_solve` is a choice. For fixed labour, productivity does not depend on the rate and every pairwise
    coin difference scales by ``1 - t`` (``c = (1 - t) z + t mean(z)``), so productivity x equality
    ``= sum(z) (1 - (1 - t) G(z) n / (n - 1))`` increases linearly in ``t``: on each interval of constant
    equilibrium labour the optimum is the interval's right end. The intervals are found by scanning ``scan_step``
    and bisecting every change of the planner's favourite equilibrium to ``tol`` (an interval shorter than the
    scan step could be missed; the defaults agree with a 0.001 scan). Defaults: 96.007 at t = 0.742929 with labour
    (0, 0, 10, 10), where the skill-4 worker is indifferent between 10 and 9 (the favourite, planner-preferred
    equilibrium; any rate just below attains it in the limit); the 0.05 grid's best is 93.0 at 0.75.
    """
    args = (skills, max_labour, labour_cost, eta)
    grid = np.round(np.arange(0.0, 1.0 + scan_step / 2, scan_step), 12)
    grid[-1] = min(grid[-1], 1.0)
    labour = [_favourite_equilibrium(float(t), *args)[0] for t in grid]
    ends, breakpoints = [(1.0, labour[-1])], []
    for i in range(len(grid) - 1):
        if labour[i] == labour[i + 1]:
            continue
        lo, hi = float(grid[i]), float(grid[i + 1])  # labour[i] is an equilibrium at lo, the favourite changes by hi
        while hi - lo > tol:
            mid = 0.5 * (lo + hi)
            if any(tuple(e) == labour[i] for e in taxlite_equilibria(mid, *args)):
                lo = mid
            else:
                hi = mid
        ends.append((lo, labour[i]))
        breakpoints.append(lo)
    values = []
    for rate, work in ends:
        prod, equal = productivity_and_equality(taxlite_coin(np.array(work), rate, skills))
        values.append(float(prod * equal))
    best = int(np.argmax(values))
    return TaxLiteContinuousOptimum(ends[best][0], values[best], np.array(ends[best][1]), np.array(sorted(breakpoints)))


# --------------------------------------------------------------------------- best responses to fixed policies
@dataclass(frozen=True)
class BestResponseCheck:
    """Every agent's exact best response to the others' fixed (possibly stochastic) policies in an episode.

    ``values[i]``: agent ``i``'s expected return from the start when everyone follows the given policies;
    ``best_values[i]``: its return when it best-responds to the others' policies (backward induction over
    the episode, so deviations may be dynamic); ``best_first_actions[i]``: that best response's action at
    the start (lowest index among ties). The joint policy is a Nash equilibrium of the episodic game with
    the given incentives iff every gain ``best_values - values`` is 0: a learner that is paid less than
    its best response requires shows up as a positive gain, whatever it actually did in training.
    """

    values: np.ndarray  # [N]
    best_values: np.ndarray  # [N]
    best_first_actions: np.ndarray  # [N]

    @property
    def gains(self) -> np.ndarray:
        """What each agent leaves on the table by not best-responding (>= 0 up to rounding)."""
        return self.best_values - self.values

    def is_equilibrium(self, tolerance: float = 1e-6) -> bool:
        """Whether no agent gains more than ``tolerance`` by deviating."""
        return bool(np.all(self.gains <= tolerance))


def _check_policies(policies: np.ndarray, shape: tuple[int, ...], name: str = "policies") -> np.ndarray:
    policies = np.asarray(policies, dtype=np.float64)
    if policies.shape != shape:
        raise ValueError(f"{name} must have shape {shape} (states, agents, actions), got {policies.shape}")
    if not np.all(np.isfinite(policies)) or policies.min() < 0.0:
        raise ValueError(f"{name} must be finite probabilities >= 0")
    if not np.allclose(policies.sum(axis=-1), 1.0, rtol=0.0, atol=1e-6):
        raise ValueError(f"{name}: every row of action probabilities must sum to 1")
    return policies


def episodic_best_responses(
    rewards: np.ndarray,
    next_state: np.ndarray,
    terminal: np.ndarray,
    policies: np.ndarray,
    profiles: np.ndarray,
    horizon: int,
    discount: float = 1.0,
    start: int = 0,
) -> BestResponseCheck:
    """Exact values and best responses in a finite-horizon game whose players act simultaneously.

    ``rewards [S, J, N]``: what each agent gets (incentives included) when joint action ``j`` is played in
    state ``s``; ``profiles [J, N]``: the joint actions; ``next_state [J]`` or ``[S, J]``; ``terminal [S, J]``:
    the episode ends after that step; ``policies [S, N, A]``: each agent's action probabilities per state
    (stationary); ``horizon`` steps at most, ``discount`` per step, from state ``start``. Values for every
    agent and every state are computed by backward induction (``O(horizon S J N)``).
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    if rewards.ndim != 3:
        raise ValueError(f"rewards must have shape (states, joint actions, agents), got {rewards.shape}")
    n_states, n_joint, n_agents = rewards.shape
    profiles = np.asarray(profiles)
    if profiles.shape != (n_joint, n_agents):
        raise ValueError(f"profiles must have shape {(n_joint, n_agents)}, got {profiles.shape}")
    n_actions = int(profiles.max()) + 1
    policies = _check_policies(policies, (n_states, n_agents, n_actions))
    next_state = np.broadcast_to(np.asarray(next_state), (n_states, n_joint))
    terminal = np.broadcast_to(np.asarray(terminal, dtype=bool), (n_states, n_joint))
    if not (isinstance(horizon, (int, np.integer)) and horizon >= 1):
        raise ValueError(f"horizon must be an integer >= 1, got {horizon!r}")
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"discount must be in [0, 1], got {discount}")
    if not 0 <= start < n_states:
        raise ValueError(f"start must be a state index in [0, {n_states}), got {start}")

    agents = np.arange(n_agents)
    chosen = policies[:, agents[None, :], profiles]  # [S, J, N]: prob. of each agent's part of joint action j
    joint = chosen.prod(axis=2)  # [S, J]
    others = np.stack([np.delete(chosen, i, axis=2).prod(axis=2) for i in agents], axis=2)  # [S, J, N]
    own_action = np.eye(n_actions)[profiles]  # [J, N, A]
    alive = discount * ~terminal
    value = np.zeros((n_states, n_agents))
    best = np.zeros((n_states, n_agents))
    first = np.zeros(n_agents, dtype=np.int64)
    for step in range(horizon - 1, -1, -1):
        value = np.einsum("sj,sjn->sn", joint, rewards + alive[..., None] * value[next_state])
        q_target = others * (rewards + alive[..., None] * best[next_state])  # [S, J, N]
        q = np.einsum("sjn,jna->sna", q_target, own_action)  # [S, N, A]: each agent's action values
        best = q.max(axis=2)
        if step == 0:
            first = np.argmax(q[start] >= best[start][:, None] - _tie(q[start]), axis=1)
    return BestResponseCheck(value[start].copy(), best[start].copy(), first)


def escape_room_states(n_agents: int) -> tuple[np.ndarray, np.ndarray]:
    """The decision states of an Escape Room episode: ``(positions [S, N], previous joint action [S, N])``.

    State ``k < 3^N`` follows a round whose joint action was profile ``k`` of :func:`escape_room_profiles`
    (positions = that action); state ``3^N`` is the start (all at the start, no previous action: -1).
    """
    profiles = escape_room_profiles(n_agents)
    start = np.full((1, n_agents), START)
    positions = np.concatenate([profiles, start])
    previous = np.concatenate([profiles, np.full((1, n_agents), -1)])
    return positions, previous


def escape_room_best_responses(
    n_agents: int,
    min_at_lever: int,
    policies,
    schedule,
    horizon: int = 5,
    discount: float = 1.0,
    door_reward: float = 10.0,
    move_cost: float = 1.0,
) -> BestResponseCheck:
    """Exact best responses in an Escape Room episode to fixed agent policies and a fixed incentive schedule.

    ``policies [S, N, 3]`` and ``schedule`` (``[S, 3]`` per action type, or ``[S, N, 3]`` per agent) are given
    on the states of :func:`escape_room_states` (the designer may condition on the previous joint action,
    the agents on positions). A designer that also sees the current joint action (dual-RL) gives its expected
    payments instead: ``schedule [S, 3^N, N]``, what each agent is paid when joint action ``j`` (a row of
    :func:`escape_room_profiles`) is played in state ``s``. The episode ends when the door opens with an agent
    at the door, or after ``horizon`` rounds.
    """
    _check_er(n_agents, min_at_lever)
    if n_agents > 6:
        raise ValueError(f"n_agents <= 6 for the exact best responses (3^N states x 3^N joint actions), got {n_agents}")
    positions, _ = escape_room_states(n_agents)
    profiles = escape_room_profiles(n_agents)
    paid = _payments(schedule, len(positions), profiles, 3)
    env = escape_room_rewards(n_agents, min_at_lever, profiles[None], positions[:, None], door_reward, move_cost)
    door_open = (profiles == LEVER).sum(axis=1) >= min_at_lever
    terminal = np.broadcast_to(door_open & (profiles == DOOR).any(axis=1), (len(positions), len(profiles)))
    return episodic_best_responses(
        env + paid, np.arange(len(profiles)), terminal, policies, profiles, horizon, discount, start=len(positions) - 1
    )


def _payments(schedule, n_states: int, profiles: np.ndarray, n_actions: int) -> np.ndarray:
    """What each agent is paid ``[S, J, N]`` under a schedule per action type ``[S, A]``, per agent ``[S, N, A]``,
    or given per joint action ``[S, J, N]``."""
    n_joint, n_agents = profiles.shape
    schedule = np.asarray(schedule, dtype=np.float64)
    allowed = [(n_states, n_actions), (n_states, n_agents, n_actions), (n_states, n_joint, n_agents)]
    if schedule.shape not in allowed or not np.all(np.isfinite(schedule)):
        raise ValueError(f"schedule must be finite with shape {' or '.join(map(str, allowed))}, got {schedule.shape}")
    if schedule.shape == (n_states, n_joint, n_agents) and schedule.shape != (n_states, n_agents, n_actions):
        return schedule
    if schedule.shape == (n_states, n_actions):
        schedule = np.broadcast_to(schedule[:, None, :], (n_states, n_agents, n_actions))
    return np.take_along_axis(schedule[:, None, :, :], profiles[None, :, :, None], axis=3)[..., 0]


PD_START_STATE = 4  # the dilemma's states: previous joint action 2 a0 + a1 (C = 0, D = 1), then the start


def pd_best_responses(
    policies, schedule, horizon: int = 5, discount: float = 1.0, payoffs=LOLA_PAYOFFS
) -> BestResponseCheck:
    """Exact best responses in an iterated Prisoner's Dilemma episode to fixed policies and incentives.

    States: previous joint action ``2 a0 + a1`` (0 = CC, 1 = CD, 2 = DC, 3 = DD; C = 0, D = 1) and 4 = the
    start. ``policies [5, 2, 2]``: each agent's probabilities of (C, D) per state; ``schedule [5, 2]`` (the
    designer pays ``schedule[s, a]`` for action ``a``, the same for both agents), ``[5, 2, 2]`` (per agent), or
    ``[5, 4, 2]``: each agent's (expected) payment when joint action ``j = 2 a0 + a1`` is played in state ``s``
    (a designer that sees the current joint action).
    """
    r, s, t, p = _pd(payoffs)
    matrix = np.array([[r, s], [t, p]])  # [own action, other's action]
    profiles = np.array([[j // 2, j % 2] for j in range(4)])
    paid = _payments(schedule, 5, profiles, 2)  # [5, 4, 2]
    env = np.stack([matrix[profiles[:, 0], profiles[:, 1]], matrix[profiles[:, 1], profiles[:, 0]]], axis=1)
    return episodic_best_responses(
        env[None] + paid, np.arange(4), np.zeros((5, 4), dtype=bool), policies, profiles, horizon, discount, 4
    )


def taxlite_best_responses(
    rate,
    policies,
    skills=TAXLITE_SKILLS,
    max_labour: int = 10,
    labour_cost: float = 0.8,
    eta: float = 0.23,
    rate_weights=None,
) -> BestResponseCheck:
    """Exact best responses in TaxLite (one step) at flat ``rate`` to the workers' labour distributions.

    ``policies [N, max_labour + 1]``: each worker's probabilities of every labour level. Rewards are the
    workers' utilities ``u_i(c_i, l_i)`` of post-tax coin. A planner that randomises (workers choose labour
    without seeing the rate): ``rate`` an array of rates and ``rate_weights`` their probabilities; utilities are
    then expected over the rate."""
    skills = np.asarray(skills, dtype=np.float64)
    n, levels = skills.size, int(max_labour) + 1
    rates = np.atleast_1d(np.asarray(rate, dtype=np.float64))
    weights = np.ones(1) if rate_weights is None else np.asarray(rate_weights, dtype=np.float64)
    if rates.ndim != 1 or weights.shape != rates.shape:
        raise ValueError(f"rate_weights must give one probability per rate, got {weights.shape} for {rates.shape}")
    if not (np.all((rates >= 0.0) & (rates <= 1.0)) and weights.min() >= 0 and abs(weights.sum() - 1) < 1e-9):
        raise ValueError(f"rate must be in [0, 1] (and rate_weights probabilities), got {rate}")
    if levels**n > 200_000:
        raise ValueError(f"{levels}^{n} joint labour profiles are too many to enumerate")
    policies = _check_policies(np.asarray(policies, dtype=np.float64)[None], (1, n, levels))
    k = np.arange(levels**n)
    profiles = (k[:, None] // levels ** np.arange(n)) % levels  # [J, N]
    utility = sum(
        w * isoelastic_utility(taxlite_coin(profiles, r, skills), profiles, eta, labour_cost)
        for r, w in zip(rates, weights, strict=True)
        if w > 0
    )
    return episodic_best_responses(
        utility[None], np.zeros(len(profiles), dtype=np.int64), np.ones((1, len(profiles)), bool), policies, profiles, 1
    )
