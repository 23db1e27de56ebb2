"""Exact subgame-perfect equilibrium of a principal-agent MDP.

* Acyclic specs: backward induction, vectorised over each level of the state graph (all states
  whose successors are already solved), with the min-pay contract of every (state, recommended
  action) from :mod:`contract_envs.solvers.min_pay`.
* Specs with cycles (``gamma < 1``): PARL's meta-algorithm: alternate (i) the agent's exact best
  response to the current contracts (policy iteration, ties to the recommended action) and (ii) the
  principal's optimisation of its contractual Q-function over recommended actions given the agent's
  truncated Q (policy iteration over min-pay contracts), until the policy repeats.

Conventions: an indifferent agent takes the recommended action; among equally good recommended
actions the principal picks the lowest index.

"Indifferent" and "equally good" are relative, so a problem with every reward multiplied by ``c``
has the same equilibrium with values and contracts multiplied by ``c``: two values tie when they
differ by at most ``1e-9 * value_scale(spec)`` (largest per-step reward times the horizon) plus 16
ulps of the larger (which matters only beside the huge contracts of nearly uninformative outcomes).
Policy evaluation and the meta-algorithm's stopping rule are relative to the same scales; outcome
probabilities follow :mod:`contract_envs.solvers.min_pay` (equal only up to rounding noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec
from contract_envs.solvers.min_pay import _dot_last, _row_max, min_pay_contracts

_RTOL = 1e-9  # values tie within this fraction of the problem's value scale ...
_ULPS = 16  # ... plus this many ulps of the numbers compared
_EPS = float(np.finfo(np.float64).eps)
_SETTLED = 5e-11  # the meta-algorithm stops when no contract moves by more than this fraction of the scale


@dataclass
class Solution:
    """A subgame-perfect equilibrium.

    Attributes:
        principal_value: principal's value at the initial state.
        agent_value: agent's value at the initial state.
        recommended_action: ``[S]`` action the principal implements in each state.
        contract: ``[S, O]`` min-pay contract offered in each state (zeros in terminal states).
        principal_q: ``[S, A]`` principal's contractual Q over recommended actions (``-inf`` where
            an action cannot be implemented).
        agent_truncated_q: ``[S, A]`` agent's truncated Q ``Q̄(s, a)`` (without the current payment).
        principal_values, agent_values: ``[S]`` values of every state.
        method: ``"backward_induction"`` or ``"meta_algorithm"``.
        iterations: outer iterations of the meta-algorithm (levels for backward induction).
    """

    principal_value: float
    agent_value: float
    recommended_action: np.ndarray
    contract: np.ndarray
    principal_q: np.ndarray
    agent_truncated_q: np.ndarray
    principal_values: np.ndarray
    agent_values: np.ndarray
    method: str
    iterations: int


def value_scale(spec: PrincipalAgentMDPSpec, levels: list[np.ndarray] | None = None, extra: float = 0.0) -> float:
    """What the solvers' tolerances are relative to: a bound on ``|value|``.

    The largest per-step reward (the agent's, the principal's, or ``extra``: a margin, offered
    payments) times the horizon (``1 / (1 - gamma)``, or the longest path when gamma = 1; pass the
    spec's ``levels`` if known). 1 for an all-zero problem, where nothing needs a tolerance.
    """
    reward = max(float(np.abs(spec.agent_reward).max()), float(np.abs(spec.principal_reward).max()), float(extra))
    if spec.gamma < 1.0:
        horizon = 1.0 / (1.0 - spec.gamma)
    else:
        levels = spec.acyclic_levels() if levels is None else levels
        horizon = float(len(levels)) if levels is not None else float(spec.n_states)
    scale = reward * max(horizon, 1.0)
    return scale if 0.0 < scale < np.inf else 1.0


def _ties(x: np.ndarray, scale: float) -> np.ndarray:
    """``[K, A]`` bool: the entries of ``x [K, A]`` that tie with their row's maximum, i.e. lie within
    ``1e-9 * scale`` plus 16 ulps of it (rows of ``-inf`` tie everywhere; ``argmax`` then picks 0)."""
    best = _row_max(x)
    return x >= (best - (_RTOL * scale + _ULPS * _EPS * np.abs(best)))[:, None]


def expected_payments(spec: PrincipalAgentMDPSpec, contract: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``[S]`` expected payment of ``contract [S, O]`` when the agent takes ``actions [S]``."""
    states = np.arange(spec.n_states)
    return (spec.outcome_probs[states, actions] * contract).sum(-1)


def _continuation(spec: PrincipalAgentMDPSpec, values: np.ndarray) -> np.ndarray:
    """``[S, O]``: expected next-state value after each (state, outcome)."""
    return (spec.transition_matrix @ values).reshape(spec.n_states, spec.n_outcomes)


def _all_min_pay(spec: PrincipalAgentMDPSpec, states: np.ndarray, qbar: np.ndarray, margin: float, scale: float):
    """Min-pay contracts for every (state in ``states``, recommended action): ``[K, A, O]``, ``[K, A]``."""
    n_a = spec.n_actions
    k = len(states)
    probs = np.repeat(spec.outcome_probs[states], n_a, axis=0)
    q = np.repeat(qbar, n_a, axis=0)
    targets = np.tile(np.arange(n_a), k)
    contracts, feasible = min_pay_contracts(probs, q, targets, margin, scale)
    return contracts.reshape(k, n_a, spec.n_outcomes), feasible.reshape(k, n_a)


def _principal_q(spec, states, contracts, feasible, cont_p):
    """Contractual Q ``[K, A]``: E_o[r_p(s,o) - b(o) + gamma * V_p(s')] under each recommendation."""
    probs = spec.outcome_probs[states]  # [K, A, O]
    gross = spec.principal_reward[states][:, None, :] + spec.gamma * cont_p[states][:, None, :]
    q = _dot_last(probs, gross - contracts)
    return np.where(feasible, q, -np.inf)


def _backward_induction(spec: PrincipalAgentMDPSpec, levels: list[np.ndarray], margin: float, scale: float) -> Solution:
    n_s, n_a, n_o = spec.n_states, spec.n_actions, spec.n_outcomes
    v_agent, v_principal = np.zeros(n_s), np.zeros(n_s)
    qbar_all = np.zeros((n_s, n_a))
    q_all = np.full((n_s, n_a), -np.inf)
    q_all[spec.terminal] = 0.0
    rec = np.zeros(n_s, dtype=np.int64)
    contract = np.zeros((n_s, n_o))
    for states in levels:
        cont_a = _continuation(spec, v_agent)[states]  # [K, O]
        qbar = spec.agent_reward[states] + spec.gamma * _dot_last(spec.outcome_probs[states], cont_a[:, None, :])
        contracts, feasible = _all_min_pay(spec, states, qbar, margin, scale)
        cont_p = np.zeros((n_s, n_o))
        cont_p[states] = _continuation(spec, v_principal)[states]
        q = _principal_q(spec, states, contracts, feasible, cont_p)
        best = np.argmax(_ties(q, scale), axis=1)  # lowest index among the best
        k = np.arange(len(states))
        chosen = contracts[k, best]
        pay = _dot_last(spec.outcome_probs[states, best], chosen)
        v_principal[states] = q[k, best]
        v_agent[states] = qbar[k, best] + pay
        qbar_all[states], q_all[states], rec[states], contract[states] = qbar, q, best, chosen
    s0 = spec.initial_state
    return Solution(
        float(v_principal[s0]),
        float(v_agent[s0]),
        rec,
        contract,
        q_all,
        qbar_all,
        v_principal,
        v_agent,
        "backward_induction",
        len(levels),
    )


def _policy_matrix(spec: PrincipalAgentMDPSpec, actions: np.ndarray) -> sp.csr_matrix:
    """``P[s, s']`` under ``actions [S]``; rows of terminal states are zero (their value is 0)."""
    n_s, n_o = spec.n_states, spec.n_outcomes
    w = spec.outcome_probs[np.arange(n_s), actions] * (~spec.terminal)[:, None]  # [S, O]
    mix = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n_s), n_o), np.arange(n_s * n_o))), shape=(n_s, n_s * n_o))
    return (mix @ spec.transition_matrix).tocsr()


def _evaluate(spec: PrincipalAgentMDPSpec, actions: np.ndarray, reward: np.ndarray) -> np.ndarray:
    """Value of a stationary policy, ``V = reward + gamma P V`` (terminal V = 0), to machine precision.

    Fixed-point iteration on the sparse policy matrix costs ``O(nnz)`` per sweep and converges
    geometrically (in at most ``depth`` sweeps on acyclic specs); direct sparse LU fills in badly on
    random graphs. A sparse direct solve is the fallback if the sweeps do not settle. The stopping
    rule is relative to the rewards' and values' magnitude, so it is the same at every reward scale.
    """
    rhs = np.where(spec.terminal, 0.0, reward)
    transition = spec.gamma * _policy_matrix(spec, actions)
    v = rhs.copy()
    size = float(np.abs(rhs).max(initial=0.0))
    magnitude = size  # max(size, max |v|), refreshed every 16 sweeps (a stale one only delays the stop)
    for sweep in range(200_000):
        new = transition @ v
        new += rhs
        step = float(np.abs(new - v).max(initial=0.0))
        if step <= 1e-13 * magnitude:
            if step <= 1e-13 * max(size, float(np.abs(new).max(initial=0.0))):
                return new
        elif sweep % 16 == 0:
            magnitude = max(size, float(np.abs(new).max(initial=0.0)))
        v = new
    system = sp.identity(spec.n_states, format="csr") - transition
    return np.atleast_1d(spsolve(system.tocsc(), rhs))


def _agent_best_response(spec, contract, rec, start, scale):
    """Agent's optimal policy given contracts ``[S, O]`` (policy iteration, ties to ``rec``, then to
    the current policy, then to the lowest index; a switch must gain more than the tie tolerance)."""
    states = np.arange(spec.n_states)
    expected_pay = _dot_last(spec.outcome_probs, contract[:, None, :])  # [S, A]
    policy = start.copy()
    for _ in range(10 * spec.n_states + 10):
        v = _evaluate(spec, policy, spec.agent_reward[states, policy] + expected_pay[states, policy])
        qbar = spec.agent_reward + spec.gamma * _dot_last(spec.outcome_probs, _continuation(spec, v)[:, None, :])
        good = _ties(qbar + expected_pay, scale)
        new = np.where(good[states, policy], policy, np.argmax(good, axis=1))
        new = np.where(good[states, rec], rec, new)  # indifferent -> recommended
        if np.array_equal(new, policy):
            return policy, qbar, v
        policy = new
    return policy, qbar, v


def _principal_best(spec, qbar, margin, start, scale):
    """Principal's optimal recommendations given the agent's truncated Q (policy iteration)."""
    states = np.arange(spec.n_states)
    contracts, feasible = _all_min_pay(spec, states, qbar, margin, scale)
    probs = spec.outcome_probs
    immediate = np.where(feasible, _dot_last(probs, spec.principal_reward[:, None, :] - contracts), -np.inf)
    rec = np.where(feasible[states, start], start, np.argmax(feasible, axis=1))
    for _ in range(10 * spec.n_states + 10):
        v = _evaluate(spec, rec, immediate[states, rec])
        q = immediate + spec.gamma * _dot_last(probs, _continuation(spec, v)[:, None, :])
        q = np.where(feasible, q, -np.inf)
        good = _ties(q, scale)
        new = np.where(good[states, rec], rec, np.argmax(good, axis=1))
        if np.array_equal(new, rec):
            break
        rec = new
    q[spec.terminal] = 0.0
    return rec, contracts[states, rec], q, v


def _meta_algorithm(spec: PrincipalAgentMDPSpec, margin: float, max_iterations: int, scale: float) -> Solution:
    n_s, n_o = spec.n_states, spec.n_outcomes
    rec = np.zeros(n_s, dtype=np.int64)
    contract = np.zeros((n_s, n_o))
    agent_policy = np.zeros(n_s, dtype=np.int64)
    seen = set()
    it = 0
    while it < max_iterations:
        it += 1
        agent_policy, qbar, v_agent = _agent_best_response(spec, contract, rec, agent_policy, scale)
        new_rec, new_contract, q, v_principal = _principal_best(spec, qbar, margin, rec, scale)
        unit = _SETTLED * scale
        key = (new_rec.tobytes(), np.round(new_contract / unit).tobytes())
        change = np.abs(new_contract - contract)
        converged = np.array_equal(new_rec, rec) and np.all(change <= unit + _ULPS * _EPS * np.abs(contract))
        rec, contract = new_rec, new_contract
        if converged or key in seen:
            break
        seen.add(key)
    agent_policy, qbar, v_agent = _agent_best_response(spec, contract, rec, rec, scale)
    s0 = spec.initial_state
    return Solution(
        float(v_principal[s0]), float(v_agent[s0]), rec, contract, q, qbar, v_principal, v_agent, "meta_algorithm", it
    )


def solve_spe(
    spec: PrincipalAgentMDPSpec, method: str = "auto", margin: float = 0.0, max_iterations: int = 1000
) -> Solution:
    """Subgame-perfect equilibrium of ``spec``.

    Args:
        spec: the principal-agent MDP.
        method: ``"auto"`` (backward induction if the spec is acyclic, else the meta-algorithm),
            ``"backward_induction"`` or ``"meta_algorithm"``.
        margin: nudge ξ added to every incentive-compatibility constraint.
        max_iterations: cap on the meta-algorithm's outer iterations.
    """
    if method not in ("auto", "backward_induction", "meta_algorithm"):
        raise ValueError(f"method must be 'auto', 'backward_induction' or 'meta_algorithm', got {method!r}")
    levels = spec.acyclic_levels() if method != "meta_algorithm" else None
    if method == "backward_induction" and levels is None:
        raise ValueError("backward induction needs an acyclic spec; this one has cycles (use the meta-algorithm)")
    if levels is not None:
        return _backward_induction(spec, levels, margin, value_scale(spec, levels, margin))
    if spec.gamma >= 1.0 and spec.acyclic_levels() is None:
        raise ValueError("the meta-algorithm needs gamma < 1 for a spec with cycles")
    return _meta_algorithm(spec, margin, max_iterations, value_scale(spec, extra=margin))
