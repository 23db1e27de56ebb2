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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import spsolve

from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec
from contract_envs.solvers.min_pay import min_pay_contracts

_TIE = 1e-9


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


def expected_payments(spec: PrincipalAgentMDPSpec, contract: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """``[S]`` expected payment of ``contract [S, O]`` when the agent takes ``actions [S]``."""
    states = np.arange(spec.n_states)
    return (spec.outcome_probs[states, actions] * contract).sum(-1)


def _continuation(spec: PrincipalAgentMDPSpec, values: np.ndarray) -> np.ndarray:
    """``[S, O]``: expected next-state value after each (state, outcome)."""
    return (spec.transition_matrix @ values).reshape(spec.n_states, spec.n_outcomes)


def _all_min_pay(spec: PrincipalAgentMDPSpec, states: np.ndarray, qbar: np.ndarray, margin: float):
    """Min-pay contracts for every (state in ``states``, recommended action): ``[K, A, O]``, ``[K, A]``."""
    n_a = spec.n_actions
    k = len(states)
    probs = np.repeat(spec.outcome_probs[states], n_a, axis=0)
    q = np.repeat(qbar, n_a, axis=0)
    targets = np.tile(np.arange(n_a), k)
    contracts, feasible = min_pay_contracts(probs, q, targets, margin)
    return contracts.reshape(k, n_a, spec.n_outcomes), feasible.reshape(k, n_a)


def _principal_q(spec, states, contracts, feasible, cont_p):
    """Contractual Q ``[K, A]``: E_o[r_p(s,o) - b(o) + gamma * V_p(s')] under each recommendation."""
    probs = spec.outcome_probs[states]  # [K, A, O]
    gross = spec.principal_reward[states][:, None, :] + spec.gamma * cont_p[states][:, None, :]
    q = (probs * (gross - contracts)).sum(-1)
    return np.where(feasible, q, -np.inf)


def _backward_induction(spec: PrincipalAgentMDPSpec, levels: list[np.ndarray], margin: float) -> Solution:
    n_s, n_a, n_o = spec.n_states, spec.n_actions, spec.n_outcomes
    v_agent, v_principal = np.zeros(n_s), np.zeros(n_s)
    qbar_all = np.zeros((n_s, n_a))
    q_all = np.full((n_s, n_a), -np.inf)
    q_all[spec.terminal] = 0.0
    rec = np.zeros(n_s, dtype=np.int64)
    contract = np.zeros((n_s, n_o))
    for states in levels:
        cont_a = _continuation(spec, v_agent)[states]  # [K, O]
        qbar = spec.agent_reward[states] + spec.gamma * (spec.outcome_probs[states] * cont_a[:, None, :]).sum(-1)
        contracts, feasible = _all_min_pay(spec, states, qbar, margin)
        cont_p = np.zeros((n_s, n_o))
        cont_p[states] = _continuation(spec, v_principal)[states]
        q = _principal_q(spec, states, contracts, feasible, cont_p)
        best = np.argmax(q, axis=1)
        k = np.arange(len(states))
        chosen = contracts[k, best]
        pay = (spec.outcome_probs[states, best] * chosen).sum(-1)
        v_principal[states] = q[k, best]
        v_agent[states] = qbar[k, best] + pay
        qbar_all[states], q_all[states], rec[states], contract[states] = qbar, q, best, chosen
    s0 = spec.initial_state
    return Solution(float(v_principal[s0]), float(v_agent[s0]), rec, contract, q_all, qbar_all,
                    v_principal, v_agent, "backward_induction", len(levels))


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
    random graphs. A sparse direct solve is the fallback if the sweeps do not settle.
    """
    rhs = np.where(spec.terminal, 0.0, reward)
    transition = spec.gamma * _policy_matrix(spec, actions)
    v = rhs.copy()
    for _ in range(200_000):
        new = rhs + transition @ v
        if np.max(np.abs(new - v)) <= 1e-13 * (1.0 + np.max(np.abs(new))):
            return new
        v = new
    system = sp.identity(spec.n_states, format="csr") - transition
    return np.atleast_1d(spsolve(system.tocsc(), rhs))


def _agent_best_response(spec, contract, rec, start):
    """Agent's optimal policy given contracts ``[S, O]`` (policy iteration, ties to ``rec``)."""
    states = np.arange(spec.n_states)
    expected_pay = (spec.outcome_probs * contract[:, None, :]).sum(-1)  # [S, A]
    policy = start.copy()
    for _ in range(10 * spec.n_states + 10):
        v = _evaluate(spec, policy, spec.agent_reward[states, policy] + expected_pay[states, policy])
        qbar = spec.agent_reward + spec.gamma * (spec.outcome_probs * _continuation(spec, v)[:, None, :]).sum(-1)
        total = qbar + expected_pay
        best = total.max(axis=1)
        new = np.where(total[states, policy] >= best - _TIE, policy, np.argmax(total, axis=1))
        new = np.where(total[states, rec] >= best - _TIE, rec, new)  # indifferent -> recommended
        if np.array_equal(new, policy):
            return policy, qbar, v
        policy = new
    return policy, qbar, v


def _principal_best(spec, qbar, margin, start):
    """Principal's optimal recommendations given the agent's truncated Q (policy iteration)."""
    states = np.arange(spec.n_states)
    contracts, feasible = _all_min_pay(spec, states, qbar, margin)
    probs = spec.outcome_probs
    immediate = np.where(feasible, (probs * (spec.principal_reward[:, None, :] - contracts)).sum(-1), -np.inf)
    rec = np.where(feasible[states, start], start, np.argmax(feasible, axis=1))
    for _ in range(10 * spec.n_states + 10):
        v = _evaluate(spec, rec, immediate[states, rec])
        q = immediate + spec.gamma * (probs * _continuation(spec, v)[:, None, :]).sum(-1)
        q = np.where(feasible, q, -np.inf)
        best = q.max(axis=1)
        new = np.where(q[states, rec] >= best - _TIE, rec, np.argmax(q, axis=1))
        if np.array_equal(new, rec):
            break
        rec = new
    q[spec.terminal] = 0.0
    return rec, contracts[states, rec], q, v


def _meta_algorithm(spec: PrincipalAgentMDPSpec, margin: float, max_iterations: int) -> Solution:
    n_s, n_o = spec.n_states, spec.n_outcomes
    rec = np.zeros(n_s, dtype=np.int64)
    contract = np.zeros((n_s, n_o))
    agent_policy = np.zeros(n_s, dtype=np.int64)
    seen = set()
    it = 0
    while it < max_iterations:
        it += 1
        agent_policy, qbar, v_agent = _agent_best_response(spec, contract, rec, agent_policy)
        new_rec, new_contract, q, v_principal = _principal_best(spec, qbar, margin, rec)
        key = (new_rec.tobytes(), np.round(new_contract, 9).tobytes())
        converged = np.array_equal(new_rec, rec) and np.allclose(new_contract, contract, atol=1e-9, rtol=0)
        rec, contract = new_rec, new_contract
        if converged or key in seen:
            break
        seen.add(key)
    agent_policy, qbar, v_agent = _agent_best_response(spec, contract, rec, rec)
    s0 = spec.initial_state
    return Solution(float(v_principal[s0]), float(v_agent[s0]), rec, contract, q, qbar,
                    v_principal, v_agent, "meta_algorithm", it)


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
        return _backward_induction(spec, levels, margin)
    if spec.gamma >= 1.0 and spec.acyclic_levels() is None:
        raise ValueError("the meta-algorithm needs gamma < 1 for a spec with cycles")
    return _meta_algorithm(spec, margin, max_iterations)
