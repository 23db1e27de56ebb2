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

Tolerances are relative, so multiplying every reward by ``c`` multiplies every contract by ``c``:

* Values and payments: an IC row may fall short by at most ``1e-9 * scale``, ``scale`` being the
  item's value scale (default: its largest ``|Q̄|`` or the margin; ``solve_spe`` passes the
  problem's). So an action the outcomes cannot single out is still implementable, for free, when
  the agent likes it within that tolerance of the best (the tie goes to the recommendation). In
  the LP, a row is met to ``1e-9`` of its largest term after the normalisation below.
* Outcome probabilities: an IC row's coefficients ``g = O(.|a^p) - O(.|a)`` are a difference of two
  distributions, so they sum to 0; the floating-point residual is removed first (``g - mean(g)``),
  or a constant payment on every outcome would "separate" the actions by rounding error. Then
  entries with ``|g_o| <= 2 eps max(O(.|a^p), O(.|a))`` (``eps`` = 2.2e-16: 2-4 ulps of the largest
  probability, at most 4.4e-16) are rounding noise of whatever computed the probabilities
  (normalising a draw, ``1 - p``: 1-2 ulps), not information, and are set to 0 (the rest of the row
  absorbs what they carried, so it still sums to 0). Any larger gap, however small (1e-15 is more
  than twice the largest noise), is information and is priced exactly: the contract grows like
  ``delta / gap``. Hence a clear infeasibility (``None`` / ``feasible=False``) when the target's
  outcomes equal, up to noise, those of an action the agent prefers by more than the value
  tolerance (or when the contract would overflow a float).
* HiGHS works with absolute tolerances (1e-7 feasibility, coefficients under 1e-9 dropped), so each
  LP block is normalised first: the payment on each outcome is measured in units of the largest
  payment on it that alone satisfies a violated IC row, and every row is divided by its largest
  coefficient. HiGHS then sees numbers of order 1 at any reward scale and for any probability gap
  (a 1e15 payment on one outcome beside an ordinary one on another included).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

_RTOL = 1e-9  # IC rows may be violated by this fraction of the value scale (ties go to the recommendation)
_PROB_NOISE = 2 * float(np.finfo(np.float64).eps)  # probabilities this close, relative to the larger, are equal
_LP_TOL = 1e-9  # phase-1 slack of a feasible block, in the normalised LP (payments and rows of order 1)


def _row_max(x: np.ndarray) -> np.ndarray:
    """``x.max(axis=-1)`` (nan propagates), by a loop over the few columns: numpy's reduction along a
    short last axis is ~40x slower."""
    if x.shape[-1] > 16:
        return x.max(axis=-1)
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        np.maximum(out, x[..., j], out=out)
    return out


def _row_min(x: np.ndarray) -> np.ndarray:
    """``x.min(axis=-1)``, fast for a short last axis (see :func:`_row_max`)."""
    if x.shape[-1] > 16:
        return x.min(axis=-1)
    out = x[..., 0].copy()
    for j in range(1, x.shape[-1]):
        np.minimum(out, x[..., j], out=out)
    return out


def _dot_last(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a * b).sum(-1)`` (broadcasting), fast for a short last axis (see :func:`_row_max`)."""
    if a.shape[-1] != b.shape[-1] or a.shape[-1] > 16:
        return (a * b).sum(-1)
    out = a[..., 0] * b[..., 0]
    for j in range(1, a.shape[-1]):
        out += a[..., j] * b[..., j]
    return out


def _ic_gap(p_target: np.ndarray, p_other: np.ndarray, bound: float) -> np.ndarray:
    """IC row coefficients ``O(.|a^p) - O(.|a)`` (``[..., O]``, broadcasting), made to sum to exactly 0 and
    with rounding-noise entries set to 0 (module docstring). ``bound >= max |probability|`` lets the usual
    case (no entry that small but non-zero) skip the exact noise test."""
    gap = p_target - p_other
    gap -= _dot_last(gap, np.full(gap.shape[-1], 1.0 / gap.shape[-1]))[..., None]
    mag = np.abs(gap)
    maybe = (mag <= _PROB_NOISE * bound) & (mag > 0)
    if maybe.any():
        floor = _PROB_NOISE * _row_max(np.maximum(np.abs(p_target), np.abs(p_other)))
        noise = maybe & (mag <= floor[..., None])
        gap[noise] = 0.0
        rows = noise.any(axis=-1)
        if rows.any():  # what was dropped leaves a residual: take it off the remaining entries, so the row sums to 0
            sub, kept = gap[rows], gap[rows] != 0
            resid = sub.sum(-1) / np.maximum(kept.sum(-1), 1)
            gap[rows] = np.where(kept, sub - resid[..., None], 0.0)
    return gap


def _two_outcome_batch(probs: np.ndarray, qbar: np.ndarray, target: np.ndarray, margin: float, tol: np.ndarray):
    """Closed form for ``O = 2``: probs ``[K, A, 2]``, qbar ``[K, A]``, target ``[K]``, tol ``[K]`` (value units)."""
    k = np.arange(len(target))
    p0, p1 = probs[:, :, 0], probs[:, :, 1]
    # [K, A]: how much more likely o1 (and less likely o0) is under the target: the IC row made to sum to
    # 0, as in _ic_gap, with both entries the same size, so a row is noise or information as a whole
    d = 0.5 * ((p1[k, target][:, None] - p1) - (p0[k, target][:, None] - p0))
    mag = np.abs(d)
    maybe = (mag <= _PROB_NOISE * float(np.abs(probs).max(initial=0.0))) & (mag > 0)
    if maybe.any():
        largest = np.maximum(np.maximum(p0, p1), np.maximum(p0[k, target], p1[k, target])[:, None])
        d[maybe & (mag <= _PROB_NOISE * largest)] = 0.0
    delta = qbar - qbar[k, target][:, None] + margin  # [K, A]: what the IC row must overcome
    delta[k, target] = -np.inf  # the target's own row (d = 0): nothing to overcome
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = delta / d
        lo = _row_max(np.where(d > 0, ratio, -np.inf))
        hi = _row_min(np.where(d < 0, ratio, np.inf))
        x = np.minimum(np.maximum(lo, 0.0), hi)  # the point nearest 0; hi when lo > hi: the check decides
        # Feasible iff every IC row holds at x within the value tolerance, beyond the rounding of its
        # terms (rows with d = 0 test delta alone); an overflowing x gives nan here, i.e. infeasible.
        dx = d * x[:, None]
        feasible = _row_max(delta - dx) <= tol
        if not feasible.all():  # forgive the rounding of the row's terms (rarely needed: computed only here)
            bad = np.flatnonzero(~feasible)
            slack = _PROB_NOISE * (np.abs(delta[bad]) + np.abs(dx[bad]))
            feasible[bad] = _row_max(delta[bad] - dx[bad] - slack) <= tol[bad]
    feasible &= np.isfinite(x)
    x = np.where(feasible, x, 0.0)
    contract = np.zeros((len(target), 2))
    contract[:, 1] = np.maximum(x, 0.0)
    contract[:, 0] = np.maximum(-x, 0.0)
    return contract, feasible


def _lp(probs_s: np.ndarray, qbar_s: np.ndarray, target: int, margin: float):
    """Reference: one item's LP handed to HiGHS as it stands (no normalisation; the tests cross-check with it)."""
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


def _block_diag_rows(coef: np.ndarray) -> sp.csr_matrix:
    """IC rows ``coef [K, R, O]`` of independent blocks as one sparse block-diagonal matrix ``[K*R, K*O]``."""
    k_items, n_rows, n_o = coef.shape
    rows = np.broadcast_to(np.arange(k_items * n_rows).reshape(k_items, n_rows, 1), coef.shape)
    cols = np.broadcast_to((np.arange(k_items) * n_o)[:, None, None] + np.arange(n_o), coef.shape)
    return sp.csr_matrix((coef.ravel(), (rows.ravel(), cols.ravel())), shape=(k_items * n_rows, k_items * n_o))


def _lp_batch(probs: np.ndarray, qbar: np.ndarray, targets: np.ndarray, margin: float, tol: np.ndarray):
    """All blocks at once with HiGHS, normalised (see the module docstring): phase 1 (slack) finds the
    infeasible blocks, phase 2 solves the rest. Blocks that ``b = 0`` already satisfies skip the LP."""
    k_items, n_a, n_o = probs.shape
    contracts = np.zeros((k_items, n_o))
    if n_a == 1:
        return contracts, np.ones(k_items, dtype=bool)
    others = np.array([[a for a in range(n_a) if a != t] for t in range(n_a)])[targets]  # [K, A-1]
    k = np.arange(k_items)[:, None]
    coef = -_ic_gap(probs[k, targets[:, None]], probs[k, others], float(np.abs(probs).max(initial=0.0)))
    rhs = qbar[k, targets[:, None]] - qbar[k, others] - margin  # [K, A-1]
    blank = ~(coef != 0).any(axis=2)  # outcomes say nothing about the action: the row holds for all b or none
    feasible = ~(blank & (rhs < -tol[:, None])).any(axis=1)
    binding = ~blank & (rhs < 0)  # rows b = 0 violates
    feasible &= ~(binding & ~(coef < 0).any(axis=2)).any(axis=1)  # ... and no payment can help
    keep = np.flatnonzero(feasible & binding.any(axis=1))
    if not keep.size:
        return contracts, feasible
    coef, rhs, blank, binding = coef[keep], rhs[keep], blank[keep], binding[keep]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # Column scale: the largest payment on outcome o that alone satisfies a violated row (outcomes
        # that help no such row get the smallest scale: the optimum pays nothing there).
        alone = np.where(binding[:, :, None] & (coef < 0), rhs[:, :, None] / coef, 0.0).max(axis=1)  # [K', O]
        floor = np.where(alone > 0, alone, np.inf).min(axis=1, keepdims=True)
        col = np.where(alone > 0, alone, np.where(np.isfinite(floor), floor, 1.0))
        scaled = coef * col[:, None, :]
        row = np.abs(scaled).max(axis=2)  # row scale: largest coefficient 1
        row = np.where(row > 0, row, 1.0)
        rhs_y = np.where(blank, 0.0, np.minimum(rhs / row, 1e18))  # far-from-binding rows: HiGHS rejects inf
        a_y = scaled / row[:, :, None]
        c_y = probs[keep, targets[keep]] * col
        c_y = c_y / c_y.max(axis=1, keepdims=True)  # a positive weight per block leaves its optimum alone
    finite = np.isfinite(col).all(axis=1) & np.isfinite(a_y).all(axis=(1, 2)) & np.isfinite(c_y).all(axis=1)
    feasible[keep[~finite]] = False  # a contract too large for floating point
    sub = np.flatnonzero(finite)
    keep, a_y, rhs_y, c_y, col = keep[sub], a_y[sub], rhs_y[sub], c_y[sub], col[sub]
    if not keep.size:
        return contracts, feasible
    n_rows = len(keep) * (n_a - 1)
    # Phase 1: minimise total slack z >= 0 in A y - z <= rhs; a block is feasible iff its slack is 0.
    a1 = sp.hstack([_block_diag_rows(a_y), -sp.identity(n_rows)], format="csr")
    c1 = np.concatenate([np.zeros(len(keep) * n_o), np.ones(n_rows)])
    res = linprog(c1, A_ub=a1, b_ub=rhs_y.ravel(), bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"min-pay phase-1 LP failed: {res.message}")
    ok = res.x[len(keep) * n_o :].reshape(len(keep), n_a - 1).sum(1) <= _LP_TOL
    feasible[keep] = ok
    if ok.any():
        res = linprog(
            c_y[ok].ravel(), A_ub=_block_diag_rows(a_y[ok]), b_ub=rhs_y[ok].ravel(), bounds=(0, None), method="highs"
        )
        if res.status == 0:
            contracts[keep[ok]] = np.maximum(res.x.reshape(-1, n_o), 0.0) * col[ok]
        else:  # a block at the edge of phase 1's tolerance: solve the blocks one by one
            for i in np.flatnonzero(ok):
                one = linprog(c_y[i], A_ub=a_y[i], b_ub=rhs_y[i], bounds=(0, None), method="highs")
                if one.status not in (0, 2):
                    raise RuntimeError(f"min-pay LP failed: {one.message}")
                feasible[keep[i]] = one.status == 0
                contracts[keep[i]] = np.maximum(one.x, 0.0) * col[i] if one.status == 0 else 0.0
    return contracts, feasible


def min_pay_contracts(
    outcome_probs: np.ndarray,
    truncated_q: np.ndarray,
    targets: np.ndarray,
    margin: float = 0.0,
    scale: float | np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Batched min-pay contracts.

    Args:
        outcome_probs: ``[K, A, O]`` outcome distribution of each action, per item.
        truncated_q: ``[K, A]`` agent's truncated Q-values per item.
        targets: ``[K]`` action to implement per item.
        margin: nudge ξ >= 0 added to every IC row.
        scale: value scale of the problem (a number or ``[K]``) for the tolerance ``1e-9 * scale``;
            default: per item, the largest ``|truncated_q|`` or the margin.

    Returns:
        ``(contracts [K, O], feasible [K] bool)``; infeasible rows hold zeros. An item is infeasible
        when no contract implements its target: the outcomes do not distinguish it (beyond rounding
        noise) from an action the agent prefers by more than the tolerance, or the IC rows conflict.
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
    if scale is None:
        scale = np.maximum(np.abs(qbar).max(axis=1, initial=0.0), margin)
    tol = _RTOL * np.broadcast_to(np.asarray(scale, dtype=np.float64), targets.shape)
    if probs.shape[2] == 2:
        return _two_outcome_batch(probs, qbar, targets, margin, tol)
    return _lp_batch(probs, qbar, targets, margin, tol)


def min_pay_contract(
    outcome_probs_s: np.ndarray,
    truncated_q_s: np.ndarray,
    target_action: int,
    margin: float = 0.0,
    scale: float | None = None,
) -> np.ndarray | None:
    """Cheapest contract (payment per outcome) implementing ``target_action`` in one state.

    Args:
        outcome_probs_s: ``[A, O]`` outcome distribution of each action.
        truncated_q_s: ``[A]`` the agent's truncated Q-values (value of each action without the
            current payment).
        target_action: the recommended action ``a^p``.
        margin: PARL's nudge ξ: the recommended action must beat every other by at least this.
        scale: value scale for the tolerance (default: the largest ``|truncated_q_s|`` or the margin).

    Returns:
        The contract ``[O]`` (non-negative), or ``None`` if no contract implements the action (see
        :func:`min_pay_contracts`).
    """
    probs = np.asarray(outcome_probs_s, dtype=np.float64)
    if probs.ndim != 2:
        raise ValueError(f"min_pay_contract: outcome_probs_s must be [A, O], got shape {probs.shape}")
    contracts, feasible = min_pay_contracts(
        probs[None], np.asarray(truncated_q_s, dtype=np.float64)[None], np.array([target_action]), margin, scale
    )
    return contracts[0] if feasible[0] else None
