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
