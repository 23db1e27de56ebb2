"""Min-pay implementation: the cheapest limited-liability contract that makes an action a best response.

For a state ``s`` with outcome distribution ``O(s, a)`` and the agent's truncated values ``Q̄(s, a)``
(its value of each action *without* the current payment), implementing ``a^p`` costs

    min_b  sum_o O(o|s,a^p) b(o)
    s.t.   sum_o O(o|s,a^p) b(o) + Q̄(a^p) >= sum_o O(o|s,a) b(o) + Q̄(a) + margin   for all a != a^p
           b >= 0

(PARL's LP; ``margin`` is its nudge ξ). Ties go to the recommended action, so ``margin = 0`` leaves
the agent exactly indifferent. Two outcomes have a closed form for any number of actions (every IC
row constrains only ``x = b(o1) - b(o0)``, so the cheapest ``x`` is the point of a feasible
interval nearest 0), evaluated vectorised over a batch of (state, target) pairs; otherwise scipy's
HiGHS solves the LP.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

_FEAS_TOL = 1e-9


def _two_outcome_batch(probs: np.ndarray, qbar: np.ndarray, target: np.ndarray, margin: float):
    """Closed form for ``O = 2``: probs ``[K, A, 2]``, qbar ``[K, A]``, target ``[K]``."""
    k = np.arange(len(target))
    p1 = probs[:, :, 1]
    d = p1[k, target][:, None] - p1  # [K, A]: how much more likely o1 is under the target
    delta = qbar - qbar[k, target][:, None] + margin  # [K, A]: what the IC row must overcome
    other = np.ones_like(d, dtype=bool)
    other[k, target] = False
    pos, neg, zero = other & (d > _FEAS_TOL), other & (d < -_FEAS_TOL), other & (np.abs(d) <= _FEAS_TOL)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = delta / d
    lo = np.where(pos, ratio, -np.inf).max(axis=1)
    hi = np.where(neg, ratio, np.inf).min(axis=1)
    feasible = (lo <= hi + _FEAS_TOL) & ~(zero & (delta > _FEAS_TOL)).any(axis=1)
    x = np.clip(0.0, lo, hi)
    x = np.where(feasible, x, 0.0)
    contract = np.zeros((len(target), 2))
    contract[:, 1] = np.maximum(x, 0.0)
    contract[:, 0] = np.maximum(-x, 0.0)
    return contract, feasible


def _lp(probs_s: np.ndarray, qbar_s: np.ndarray, target: int, margin: float):
    n_actions, n_outcomes = probs_s.shape
    others = [a for a in range(n_actions) if a != target]
    if not others:
        return np.zeros(n_outcomes), True
    # IC rows as A_ub b <= b_ub:  (O(a) - O(a^p)) b <= Q̄(a^p) - Q̄(a) - margin
    a_ub = probs_s[others] - probs_s[target]
    b_ub = qbar_s[target] - qbar_s[others] - margin
    res = linprog(probs_s[target], A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status != 0:
        return np.zeros(n_outcomes), False
    return np.maximum(res.x, 0.0), True


def min_pay_contracts(
    outcome_probs: np.ndarray, truncated_q: np.ndarray, targets: np.ndarray, margin: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Batched min-pay contracts.

    Args:
        outcome_probs: ``[K, A, O]`` outcome distribution of each action, per item.
        truncated_q: ``[K, A]`` agent's truncated Q-values per item.
        targets: ``[K]`` action to implement per item.
        margin: nudge ξ >= 0 added to every IC row.

    Returns:
        ``(contracts [K, O], feasible [K] bool)``; infeasible rows hold zeros.
    """
    probs = np.asarray(outcome_probs, dtype=np.float64)
    qbar = np.asarray(truncated_q, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.int64)
    if probs.ndim != 3 or qbar.shape != probs.shape[:2] or targets.shape != probs.shape[:1]:
        raise ValueError(
            f"min_pay_contracts: shapes outcome_probs {probs.shape}, truncated_q {qbar.shape}, "
            f"targets {targets.shape} do not agree; expected [K, A, O], [K, A], [K]"
        )
    if margin < 0 or not np.isfinite(margin):
        raise ValueError(f"min_pay_contracts: margin must be finite and >= 0, got {margin}")
    if np.any((targets < 0) | (targets >= probs.shape[1])):
        raise ValueError(f"min_pay_contracts: target actions must lie in [0, {probs.shape[1] - 1}]")
    if probs.shape[2] == 2:
        return _two_outcome_batch(probs, qbar, targets, margin)
    contracts = np.zeros((len(targets), probs.shape[2]))
    feasible = np.zeros(len(targets), dtype=bool)
    for i, t in enumerate(targets):
        contracts[i], feasible[i] = _lp(probs[i], qbar[i], int(t), margin)
    return contracts, feasible


def min_pay_contract(
    outcome_probs_s: np.ndarray, truncated_q_s: np.ndarray, target_action: int, margin: float = 0.0
) -> np.ndarray | None:
    """Cheapest contract (payment per outcome) implementing ``target_action`` in one state.

    Args:
        outcome_probs_s: ``[A, O]`` outcome distribution of each action.
        truncated_q_s: ``[A]`` the agent's truncated Q-values (value of each action without the
            current payment).
        target_action: the recommended action ``a^p``.
        margin: PARL's nudge ξ: the recommended action must beat every other by at least this.

    Returns:
        The contract ``[O]`` (non-negative), or ``None`` if no contract implements the action.
    """
    probs = np.asarray(outcome_probs_s, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"min_pay_contract: outcome_probs_s must be [A, O], got shape {probs.shape}")
    contracts, feasible = min_pay_contracts(
        probs[None], np.asarray(truncated_q_s, dtype=np.float64)[None], np.array([target_action]), margin
    )
    return contracts[0] if feasible[0] else None
