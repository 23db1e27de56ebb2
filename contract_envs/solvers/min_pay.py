"""Min-pay implementation: the cheapest limited-liability contract that makes an action a best response.

For a state ``s`` with outcome distribution ``O(s, a)`` and the agent's truncated values ``Q̄(s, a)``
(its value of each action *without* the current payment), implementing ``a^p`` costs

    min_b  sum_o O(o|s,a^p) b(o)
    s.t.   sum_o O(o|s,a^p) b(o) + Q̄(a^p) >= sum_o O(o|s,a) b(o) + Q̄(a) + margin   for all a != a^p
           b >= 0

(PARL's LP; ``margin`` is its nudge ξ). Ties go to the recommended action, so ``margin = 0`` leaves
the agent exactly indifferent. Two outcomes have a closed form for any number of actions (every IC
row constrains only ``x = b(o1) - b(o0)``, so the cheapest ``x`` is the point of a feasible
interval nearest 0), evaluated vectorised over a batch of (state, target) pairs. Otherwise scipy's
HiGHS solves one block-diagonal LP for the whole batch (the blocks are independent, so the joint
optimum is every block's optimum), after a phase-1 LP that finds the infeasible blocks.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
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


def _ic_rows(probs: np.ndarray, qbar: np.ndarray, targets: np.ndarray, margin: float):
    """IC constraints of every block as one sparse system ``A b <= rhs`` (block-diagonal)."""
    k_items, n_a, n_o = probs.shape
    others = np.array([[a for a in range(n_a) if a != t] for t in range(n_a)])[targets]  # [K, A-1]
    k = np.arange(k_items)[:, None]
    coef = probs[k, others] - probs[k, targets[:, None]]  # [K, A-1, O]
    rhs = (qbar[k, targets[:, None]] - qbar[k, others] - margin).ravel()
    rows = np.broadcast_to(np.arange(k_items * (n_a - 1)).reshape(k_items, n_a - 1, 1), coef.shape)
    cols = np.broadcast_to((np.arange(k_items) * n_o)[:, None, None] + np.arange(n_o), coef.shape)
    a_ub = sp.csr_matrix((coef.ravel(), (rows.ravel(), cols.ravel())), shape=(k_items * (n_a - 1), k_items * n_o))
    return a_ub, rhs


def _lp_batch(probs: np.ndarray, qbar: np.ndarray, targets: np.ndarray, margin: float):
    """All blocks at once with HiGHS: phase 1 (slack) finds infeasible blocks, phase 2 solves the rest."""
    k_items, n_a, n_o = probs.shape
    contracts = np.zeros((k_items, n_o))
    if n_a == 1:
        return contracts, np.ones(k_items, dtype=bool)
    a_ub, rhs = _ic_rows(probs, qbar, targets, margin)
    n_rows = a_ub.shape[0]
    # Phase 1: minimise total slack z >= 0 in A b - z <= rhs; a block is feasible iff its slack is 0.
    a1 = sp.hstack([a_ub, -sp.identity(n_rows)], format="csr")
    c1 = np.concatenate([np.zeros(k_items * n_o), np.ones(n_rows)])
    res = linprog(c1, A_ub=a1, b_ub=rhs, bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"min-pay phase-1 LP failed: {res.message}")
    slack = res.x[k_items * n_o:].reshape(k_items, n_a - 1).sum(1)
    feasible = slack <= 1e-9 * (1.0 + np.abs(rhs).reshape(k_items, n_a - 1).max(1))
    keep = np.flatnonzero(feasible)
    if keep.size:
        a2, rhs2 = _ic_rows(probs[keep], qbar[keep], targets[keep], margin)
        c2 = probs[keep, targets[keep]].ravel()
        res = linprog(c2, A_ub=a2, b_ub=rhs2, bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"min-pay LP failed: {res.message}")
        contracts[keep] = np.maximum(res.x.reshape(len(keep), n_o), 0.0)
    return contracts, feasible


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
    if len(targets) == 1:
        contract, feasible = _lp(probs[0], qbar[0], int(targets[0]), margin)
        return contract[None], np.array([feasible])
    return _lp_batch(probs, qbar, targets, margin)


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
