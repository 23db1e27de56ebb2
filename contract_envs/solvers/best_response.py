"""Exact evaluation of a fixed principal policy: the oracle agent that validates learned principals.

PARL validates a learned principal against an *exact* agent on the true model, not against the
agent it was trained with. ``agent_best_response`` and ``evaluate_policies`` take the principal's
policy as a table ``contracts [S, O]`` (what it offers in each state); ``implement_recommendations``
takes only its recommended actions and implements each with the min-pay contract against the exact
agent (the value the recommendations are worth once contracts are priced right). All reuse the SPE
solver's exact policy evaluation and agent best response, so the oracle and the equilibrium follow
the same conventions (an indifferent agent takes the recommended action; "indifferent" is within
``1e-9`` of the value scale, :func:`contract_envs.solvers.spe.value_scale`, with the offered payments
counted as rewards, so scaling every reward and payment by ``c`` scales the answer by ``c``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec
from contract_envs.solvers.min_pay import min_pay_contracts
from contract_envs.solvers.spe import _agent_best_response, _continuation, _evaluate, value_scale


@dataclass
class PolicyEvaluation:
    """Exact values of a (principal contract policy, agent policy) pair.

    Attributes:
        principal_value, agent_value: values at the initial state.
        principal_values, agent_values: ``[S]`` values of every state (0 in terminal states).
        agent_policy: ``[S]`` action the agent takes in each state.
        agent_truncated_q: ``[S, A]`` the agent's exact truncated Q ``Q̄(s, a)`` under the contracts.
        follow_rate: share of non-terminal states where the agent takes the recommended action
            (``nan`` when no recommendation was given).
    """

    principal_value: float
    agent_value: float
    principal_values: np.ndarray
    agent_values: np.ndarray
    agent_policy: np.ndarray
    agent_truncated_q: np.ndarray
    follow_rate: float


def _check_inputs(spec: PrincipalAgentMDPSpec, contracts, actions, name: str):
    if not isinstance(spec, PrincipalAgentMDPSpec):
        raise ValueError(f"spec must be a PrincipalAgentMDPSpec, got {type(spec).__name__}")
    if spec.gamma >= 1.0 and spec.acyclic_levels() is None:
        raise ValueError("exact evaluation needs gamma < 1 for a spec with cycles (values may be unbounded)")
    b = np.asarray(contracts, dtype=np.float64)
    if b.shape != (spec.n_states, spec.n_outcomes):
        raise ValueError(f"contracts: shape {b.shape}; expected [S, O] = {(spec.n_states, spec.n_outcomes)}")
    if not np.all(np.isfinite(b)) or np.any(b < 0):
        s = int(np.argwhere(~np.isfinite(b) | (b < 0))[0, 0])
        raise ValueError(f"contracts[{s}] = {b[s]}: payments must be finite and >= 0 (limited liability)")
    if actions is None:
        return b, None
    a = np.asarray(actions)
    if a.shape != (spec.n_states,) or a.dtype.kind not in "iu":
        raise ValueError(f"{name}: expected an int array of shape [S] = ({spec.n_states},), got {a.dtype} {a.shape}")
    if np.any((a < 0) | (a >= spec.n_actions)):
        raise ValueError(f"{name}: actions must lie in [0, {spec.n_actions - 1}]")
    return b, a.astype(np.int64)


def _finish(spec, contracts, policy, qbar, v_agent, recommended) -> PolicyEvaluation:
    states = np.arange(spec.n_states)
    probs = spec.outcome_probs[states, policy]  # [S, O]
    principal_reward = (probs * (spec.principal_reward - contracts)).sum(-1)
    v_principal = _evaluate(spec, policy, principal_reward)
    live = ~spec.terminal
    follow = float(np.mean(policy[live] == recommended[live])) if recommended is not None and live.any() else np.nan
    s0 = spec.initial_state
    return PolicyEvaluation(float(v_principal[s0]), float(v_agent[s0]), v_principal, v_agent, policy, qbar, follow)


def evaluate_policies(
    spec: PrincipalAgentMDPSpec, contracts: np.ndarray, agent_policy: np.ndarray, recommended: np.ndarray | None = None
) -> PolicyEvaluation:
    """Exact values when the principal offers ``contracts [S, O]`` and the agent plays ``agent_policy [S]``.

    Use it to score a learned principal together with the learned agent it was trained with.
    """
    b, policy = _check_inputs(spec, contracts, agent_policy, "agent_policy")
    _, rec = _check_inputs(spec, b, recommended, "recommended")
    states = np.arange(spec.n_states)
    pay = (spec.outcome_probs[states, policy] * b).sum(-1)
    v_agent = _evaluate(spec, policy, spec.agent_reward[states, policy] + pay)
    qbar = spec.agent_reward + spec.gamma * (spec.outcome_probs * _continuation(spec, v_agent)[:, None, :]).sum(-1)
    return _finish(spec, b, policy, qbar, v_agent, rec)


def agent_best_response(
    spec: PrincipalAgentMDPSpec, contracts: np.ndarray, recommended: np.ndarray | None = None
) -> PolicyEvaluation:
    """The oracle agent: exact best response to the principal's fixed ``contracts [S, O]``.

    Args:
        spec: the true model.
        contracts: payment per outcome the principal offers in each state.
        recommended: ``[S]`` the principal's recommended actions; an agent indifferent (within
            ``1e-9`` of the value scale) takes it. Without it, ties go to action 0 where it is among the best.

    Returns:
        The agent's optimal policy, its exact truncated Q and both players' exact values.
    """
    b, rec = _check_inputs(spec, contracts, recommended, "recommended")
    expected_pay = (spec.outcome_probs * b[:, None, :]).sum(-1)
    greedy = np.argmax(spec.agent_reward + expected_pay, axis=1)
    tie_to = rec if rec is not None else np.zeros(spec.n_states, dtype=np.int64)
    start = rec if rec is not None else greedy
    scale = value_scale(spec, extra=float(b.max(initial=0.0)))
    policy, qbar, v_agent = _agent_best_response(spec, b, tie_to, start, scale)
    return _finish(spec, b, policy, qbar, v_agent, rec)


def implement_recommendations(
    spec: PrincipalAgentMDPSpec, recommended: np.ndarray, margin: float = 0.0
) -> tuple[PolicyEvaluation, np.ndarray]:
    """Exact value of a recommendation policy ``[S]`` implemented by min-pay contracts.

    Backward induction on an acyclic spec: in each state, the exact agent's truncated Q (given the
    contracts below) prices the cheapest contract making ``recommended[s]`` a best response (plus
    ``margin``). Where a recommendation cannot be implemented the principal offers nothing and the
    agent takes its own best action. Returns the evaluation and the contracts ``[S, O]``.
    """
    _, rec = _check_inputs(spec, np.zeros((spec.n_states, spec.n_outcomes)), recommended, "recommended")
    levels = spec.acyclic_levels()
    if levels is None:
        raise ValueError("implement_recommendations needs an acyclic spec (backward induction)")
    n_s, n_o = spec.n_states, spec.n_outcomes
    v_agent = np.zeros(n_s)
    contract = np.zeros((n_s, n_o))
    scale = value_scale(spec, levels, margin)
    for states in levels:
        cont = _continuation(spec, v_agent)[states]
        qbar = spec.agent_reward[states] + spec.gamma * (spec.outcome_probs[states] * cont[:, None, :]).sum(-1)
        chosen, feasible = min_pay_contracts(spec.outcome_probs[states], qbar, rec[states], margin, scale)
        contract[states] = np.where(feasible[:, None], chosen, 0.0)
        total = qbar + (spec.outcome_probs[states] * contract[states][:, None, :]).sum(-1)
        v_agent[states] = total.max(axis=1)
    return agent_best_response(spec, contract, rec), contract
