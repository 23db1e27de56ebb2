"""The oracle agent used to validate PARL's learned principals, and the contracts the baselines offer."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy.optimize import linprog

from contract_envs.games.principal_agent_mdp import hidden_action_e8, random_binary_tree, random_mdp
from contract_envs.solvers import (
    agent_best_response,
    evaluate_policies,
    implement_recommendations,
    min_pay_contracts,
    solve_spe,
)


def brute_force_best_response(spec, contracts):
    """Best agent value at every state over all deterministic stationary policies."""
    live = np.flatnonzero(~spec.terminal)
    best = np.full(spec.n_states, -np.inf)
    for choice in itertools.product(range(spec.n_actions), repeat=len(live)):
        policy = np.zeros(spec.n_states, dtype=np.int64)
        policy[live] = choice
        best = np.maximum(best, evaluate_policies(spec, contracts, policy).agent_values)
    return best


@pytest.mark.parametrize(
    "spec",
    [random_binary_tree(3, seed=4), random_mdp(4, 2, 2, gamma=0.8, seed=1), random_mdp(3, 3, 3, seed=2)],
    ids=["tree", "mdp", "mdp3x3"],
)
def test_best_response_matches_brute_force_for_arbitrary_contracts(spec):
    rng = np.random.default_rng(0)
    contracts = rng.uniform(0, 1.5, (spec.n_states, spec.n_outcomes))
    contracts[spec.terminal] = 0.0
    br = agent_best_response(spec, contracts)
    np.testing.assert_allclose(br.agent_values, brute_force_best_response(spec, contracts), atol=1e-9)
    # the reported truncated Q is consistent with the values: V = max_a Q̄ + E[b]
    pay = (spec.outcome_probs * contracts[:, None, :]).sum(-1)
    live = ~spec.terminal
    np.testing.assert_allclose((br.agent_truncated_q + pay).max(1)[live], br.agent_values[live], atol=1e-9)


@pytest.mark.parametrize(
    "spec", [random_binary_tree(6, seed=1), random_mdp(10, 3, 3, seed=0), hidden_action_e8()], ids=["tree", "mdp", "e8"]
)
def test_oracle_follows_spe_contracts_and_deviates_when_underpaid(spec):
    sol = solve_spe(spec)
    br = agent_best_response(spec, sol.contract, sol.recommended_action)
    assert br.follow_rate == 1.0
    assert br.principal_value == pytest.approx(sol.principal_value, abs=1e-9)
    assert br.agent_value == pytest.approx(sol.agent_value, abs=1e-9)
    # min-pay contracts leave the agent indifferent: paying 1% less tips it off the recommendation
    under = agent_best_response(spec, 0.99 * sol.contract, sol.recommended_action)
    assert under.follow_rate < 1.0
    assert under.principal_value < sol.principal_value - 1e-6


def test_evaluate_policies_scores_a_fixed_pair_exactly():
    spec = hidden_action_e8()
    contracts = np.array([[0.0, 0.5], [0.0, 0.0]])
    ev = evaluate_policies(spec, contracts, np.array([2, 0]), recommended=np.array([1, 0]))
    assert ev.principal_value == pytest.approx(0.9 * (1 - 0.5))
    assert ev.agent_value == pytest.approx(0.9 * 0.5 - 0.3)
    assert ev.follow_rate == 0.0


def test_oracle_rejects_bad_input():
    spec = random_binary_tree(2, seed=0)
    good = np.zeros((spec.n_states, spec.n_outcomes))
    with pytest.raises(ValueError, match="shape"):
        agent_best_response(spec, good[:-1])
    bad = good.copy()
    bad[1, 0] = -0.1
    with pytest.raises(ValueError, match=r"contracts\[1\].*limited liability"):
        agent_best_response(spec, bad)
    with pytest.raises(ValueError, match="recommended"):
        agent_best_response(spec, good, np.full(spec.n_states, 2))
    with pytest.raises(ValueError, match="PrincipalAgentMDPSpec"):
        agent_best_response("tree", good)


def lp_contract(probs, qbar, target, margin):
    """Reference: the min-pay LP solved by scipy directly."""
    others = [a for a in range(len(qbar)) if a != target]
    res = linprog(
        probs[target],
        A_ub=probs[others] - probs[target],
        b_ub=qbar[target] - qbar[others] - margin,
        bounds=(0, None),
        method="highs",
    )
    return (res.x, True) if res.status == 0 else (None, False)


@pytest.mark.parametrize("n_actions", [2, 3, 5])
@pytest.mark.parametrize("margin", [0.0, 0.05])
def test_two_outcome_closed_form_matches_lp(n_actions, margin):
    rng = np.random.default_rng(n_actions)
    k = 60
    p1 = rng.uniform(0, 1, (k, n_actions))
    probs = np.stack([1 - p1, p1], axis=-1)
    qbar = rng.normal(0, 1, (k, n_actions))
    targets = rng.integers(n_actions, size=k)
    contracts, feasible = min_pay_contracts(probs, qbar, targets, margin)
    for i in range(k):
        ref, ok = lp_contract(probs[i], qbar[i], targets[i], margin)
        assert feasible[i] == ok
        if ok:  # same expected payment, and the closed form satisfies every IC row
            assert probs[i, targets[i]] @ contracts[i] == pytest.approx(probs[i, targets[i]] @ ref, abs=1e-7)
            total = qbar[i] + probs[i] @ contracts[i]
            others = np.arange(n_actions) != targets[i]
            assert np.all(total[targets[i]] >= total[others] + margin - 1e-9)
            assert np.all(contracts[i] >= 0)


def test_parl_binary_closed_form():
    """PARL's tree contract: to induce a1 pay max(Q̄(a0) - Q̄(a1), 0) / (p1 - p0) on o1 only; mirror for a0."""
    probs = np.array([[[0.9, 0.1], [0.1, 0.9]]] * 4)
    qbar = np.array([[0.0, -0.4], [0.0, 0.3], [0.2, -0.1], [0.5, 0.5]])
    contracts, feasible = min_pay_contracts(probs, qbar, np.array([1, 1, 0, 1]))
    assert feasible.all()
    np.testing.assert_allclose(contracts, [[0, 0.5], [0, 0], [0, 0], [0, 0]], atol=1e-12)
    contracts, _ = min_pay_contracts(probs[:1], np.array([[-0.4, 0.0]]), np.array([0]))
    np.testing.assert_allclose(contracts, [[0.5, 0]], atol=1e-12)


def test_implement_recommendations_prices_recommendations_exactly():
    spec = random_binary_tree(6, seed=3)
    sol = solve_spe(spec)
    ev, contracts = implement_recommendations(spec, sol.recommended_action)
    assert ev.principal_value == pytest.approx(sol.principal_value, abs=1e-9)
    np.testing.assert_allclose(contracts, sol.contract, atol=1e-12)
    rng = np.random.default_rng(0)
    for _ in range(5):  # any other recommendations are implemented (two outcomes) and worth no more
        rec = rng.integers(2, size=spec.n_states)
        ev, contracts = implement_recommendations(spec, rec)
        assert ev.follow_rate == 1.0
        assert ev.principal_value <= sol.principal_value + 1e-9
        # and they are min-pay: wherever it is paid, the exact agent is left indifferent
        paid = np.flatnonzero(contracts.sum(1) > 0)
        total = ev.agent_truncated_q + (spec.outcome_probs * contracts[:, None, :]).sum(-1)
        np.testing.assert_allclose(total[paid, rec[paid]], total[paid, 1 - rec[paid]], atol=1e-9)
    with pytest.raises(ValueError, match="acyclic"):
        implement_recommendations(random_mdp(4, seed=0), np.zeros(4, dtype=np.int64))
