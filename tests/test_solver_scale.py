"""Scale-invariant solvers: a problem with every reward multiplied by ``c`` has the answer multiplied by ``c``.

Rewards are scaled by 1e-8 ... 1e8; values, contracts and recommendations must scale with them, agree
with brute force on the unscaled problem, and pass the SPE check with tolerances relative to the
scale. Outcome probabilities that differ by 1e-15 still get their (large) contract; equal ones, or
ones a few ulps apart (rounding noise), are a clear infeasibility.
"""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from contract_envs.games.contract_bandit import BanditInstance
from contract_envs.games.principal_agent_mdp import PrincipalAgentMDPSpec, random_binary_tree, random_mdp
from contract_envs.games.tree_contracts import TreeInstance, tree_instance
from contract_envs.solvers import (
    agent_best_response,
    escape_room_pure_equilibria,
    evaluate_policies,
    min_pay_contract,
    min_pay_contracts,
    pd_cooperation_dominant,
    solve_contract_bandit,
    solve_spe,
    solve_tree_contracts,
)
from tests.test_solvers import _brute_force_stationary, _brute_force_tree

SCALES = (1e-8, 1e-4, 1.0, 1e4, 1e8)
RTOL = 1e-7  # what the checks allow, relative to the problem's value scale


def _scaled(spec: PrincipalAgentMDPSpec, c: float) -> PrincipalAgentMDPSpec:
    return PrincipalAgentMDPSpec(
        spec.outcome_probs,
        c * spec.agent_reward,
        c * spec.principal_reward,
        spec.transition_matrix,
        spec.terminal,
        spec.gamma,
        spec.initial_state,
    )


def _value_scale(spec: PrincipalAgentMDPSpec) -> float:
    """Largest per-step reward times the horizon (1 / (1 - gamma), or the number of levels when gamma = 1)."""
    reward = max(np.abs(spec.agent_reward).max(), np.abs(spec.principal_reward).max())
    return reward * (1 / (1 - spec.gamma) if spec.gamma < 1 else len(spec.acyclic_levels()))


def _check_spe(spec: PrincipalAgentMDPSpec, sol) -> None:
    """No profitable deviation, checked with the exact oracle and tolerances relative to the value scale.

    Agent: its exact best response to the equilibrium contracts is worth no more than following the
    recommendations, in every state. Principal: no one-shot deviation in any state (recommend another
    action, priced by the min-pay contract against the exact agent's truncated Q) gains.
    """
    tol = RTOL * _value_scale(spec)
    rec, live = sol.recommended_action, ~spec.terminal
    follow = evaluate_policies(spec, sol.contract, rec, rec)
    best = agent_best_response(spec, sol.contract, rec)
    assert np.all(best.agent_values[live] <= follow.agent_values[live] + tol)
    assert follow.principal_value == pytest.approx(sol.principal_value, abs=tol)
    assert follow.agent_value == pytest.approx(sol.agent_value, abs=tol)
    states = np.flatnonzero(live)
    n_a, n_o = spec.n_actions, spec.n_outcomes
    probs = spec.outcome_probs[states]
    qbar = follow.agent_truncated_q[states]
    contracts, feasible = min_pay_contracts(
        np.repeat(probs, n_a, 0), np.repeat(qbar, n_a, 0), np.tile(np.arange(n_a), len(states))
    )
    contracts, feasible = contracts.reshape(len(states), n_a, n_o), feasible.reshape(len(states), n_a)
    cont_p = (spec.transition_matrix @ follow.principal_values).reshape(spec.n_states, n_o)[states]
    q = (probs * (spec.principal_reward[states][:, None] - contracts + spec.gamma * cont_p[:, None])).sum(-1)
    q = np.where(feasible, q, -np.inf)
    assert np.all(q[np.arange(len(states)), rec[states]] >= q.max(1) - tol)


# ----------------------------------------------------------------------------- SPE on trees and cyclic MDPs
def test_tree_spe_scales_with_the_rewards():
    small = random_binary_tree(2, seed=1)
    brute = _brute_force_tree(small, np.round(np.arange(0, 3.0001, 0.01), 2))
    for spec, method in itertools.product(
        (small, random_binary_tree(6, seed=2)), ("backward_induction", "meta_algorithm")
    ):
        ref = solve_spe(spec, method=method)
        for c in SCALES:
            sol = solve_spe(_scaled(spec, c), method=method)
            assert sol.principal_value / c == pytest.approx(ref.principal_value, rel=1e-9)
            assert sol.agent_value / c == pytest.approx(ref.agent_value, rel=1e-9, abs=1e-12)
            np.testing.assert_array_equal(sol.recommended_action, ref.recommended_action)
            np.testing.assert_allclose(sol.contract / c, ref.contract, rtol=1e-9, atol=1e-12)
            _check_spe(_scaled(spec, c), sol)
            if spec is small:
                assert brute - 1e-9 <= sol.principal_value / c <= brute + 0.02  # grid resolution


def test_cyclic_spe_scales_with_the_rewards_and_matches_brute_force():
    # A two-state MDP small enough for brute force over stationary contracts (on the unscaled problem),
    # the instance measured in the issue (three outcomes: HiGHS LPs) and one with the closed form.
    tiny = random_mdp(2, n_actions=2, n_outcomes=2, gamma=0.8, seed=9, successors=2)
    xs = np.round(np.arange(0, 2.0001, 0.04), 2)
    per_state = [np.array([0.0, x]) for x in xs] + [np.array([x, 0.0]) for x in xs[1:]]
    brute = _brute_force_stationary(tiny, np.array(list(itertools.product(per_state, repeat=2))))
    for spec in (tiny, random_mdp(12, 3, 3, 0.9, seed=0), random_mdp(12, 3, 2, 0.9, seed=1)):
        ref = solve_spe(spec)
        for c in SCALES:
            sol = solve_spe(_scaled(spec, c))
            assert sol.principal_value / c == pytest.approx(ref.principal_value, rel=1e-7)
            assert sol.agent_value / c == pytest.approx(ref.agent_value, rel=1e-7, abs=1e-9)
            np.testing.assert_array_equal(sol.recommended_action, ref.recommended_action)
            _check_spe(_scaled(spec, c), sol)
            if spec is tiny:
                assert brute - 1e-6 <= sol.principal_value / c <= brute + 0.04  # grid resolution


# ----------------------------------------------------------------------------- min-pay at every scale
def test_min_pay_contract_is_ic_and_tight_at_every_scale():
    rng = np.random.default_rng(3)
    for n_o in (2, 3):
        k, n_a = 200, 3
        probs = rng.dirichlet(np.ones(n_o), size=(k, n_a))
        probs[:10] = probs[:10, :1]  # uninformative outcomes: only the agent's favourite is implementable
        qbar = rng.normal(size=(k, n_a))
        targets = rng.integers(0, n_a, k)
        margin = 0.05
        ref, ref_ok = min_pay_contracts(probs, qbar, targets, margin)
        ref_pay = (probs[np.arange(k), targets] * ref).sum(1)
        assert (~ref_ok[:10]).any() and ref_ok.sum() > 100
        for c in SCALES:
            b, ok = min_pay_contracts(probs, c * qbar, targets, c * margin)
            np.testing.assert_array_equal(ok, ref_ok)
            pay = (probs[np.arange(k), targets] * b).sum(1)
            np.testing.assert_allclose(pay / c, ref_pay, rtol=1e-7, atol=1e-12)
            for i in np.flatnonzero(ok):
                gain = (probs[i, targets[i]] - probs[i]) @ b[i] + c * (qbar[i, targets[i]] - qbar[i])
                gain = np.delete(gain, targets[i])  # what the target beats every other action by
                assert np.all(b[i] >= 0) and gain.min() >= c * (margin - 1e-7)
                if pay[i] > 1e-6 * c:  # tight: paying 1% less breaks the margin
                    cheaper = (probs[i, targets[i]] - probs[i]) @ (0.99 * b[i]) + c * (qbar[i, targets[i]] - qbar[i])
                    assert np.delete(cheaper, targets[i]).min() < c * margin * (1 - 1e-9)


# ----------------------------------------------------------------------------- near-ties in outcome probabilities
@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_near_tie_success_probability_gets_its_contract(p):
    probs = np.array([[1 - p, p], [1 - p - 1e-15, p + 1e-15]])  # action 1 succeeds more often, by ~1e-15
    cost = 1e-3
    qbar = np.array([0.0, -cost])
    b = min_pay_contract(probs, qbar, 1)
    assert b is not None
    d = probs[1, 1] - probs[0, 1]  # the stored gap, a handful of ulps over 1e-15
    assert b[0] == 0.0 and b[1] == pytest.approx(cost / d, rel=1e-12)
    assert (probs[1] - probs[0]) @ b == pytest.approx(cost, rel=1e-12)  # exactly indifferent
    # Same through the LP (three outcomes: the gap sits on outcomes 1 and 2).
    probs3 = np.array([[0.2, 0.8 - p / 2, p / 2], [0.2, 0.8 - p / 2 - 1e-15, p / 2 + 1e-15]])
    b3 = min_pay_contract(probs3, qbar, 1)
    assert b3 is not None
    assert (probs3[1] - probs3[0]) @ b3 == pytest.approx(cost, rel=1e-6)
    # A 1e15 payment on one outcome beside an ordinary one on another, in one LP block.
    mixed = np.array([[0.2, 0.3, 0.5], [0.5, 0.3, 0.2], [0.2, 0.3 + 1e-15, 0.5 - 1e-15]])
    q_mixed = np.array([-1.0, 0.0, -2.0])
    bm = min_pay_contract(mixed, q_mixed, 2)
    assert bm is not None
    gains = (mixed[2] - mixed[:2]) @ bm + q_mixed[2] - q_mixed[:2]  # the target beats both others ...
    assert gains.min() >= -1e-12 and bm[2] == pytest.approx(10 / 3, rel=1e-6)  # ... and pays 10/3 on outcome 2
    # And the SPE solver prices it instead of calling it unimplementable.
    spec = PrincipalAgentMDPSpec(
        np.stack([probs, np.full((2, 2), 0.5)]),
        np.array([[0.0, -cost], [0.0, 0.0]]),
        np.array([[0.0, 1.0], [0.0, 0.0]]),
        sp.csr_matrix(np.array([[0, 1], [0, 1], [0, 1], [0, 1]], float)),
        np.array([False, True]),
    )
    sol = solve_spe(spec)
    assert np.isfinite(sol.principal_q[0, 1])
    assert sol.principal_q[0, 1] == pytest.approx(probs[1, 1] - probs[1, 1] * b[1], rel=1e-9)
    # Equal probabilities, or ones a few ulps apart (rounding noise), carry no information: no contract.
    for q in (p, np.nextafter(p, 1.0), np.nextafter(np.nextafter(p, 0.0), 0.0)):
        noisy = np.array([[1 - p, p], [1 - q, q]])
        assert min_pay_contract(noisy, qbar, 1) is None
        np.testing.assert_array_equal(min_pay_contract(noisy, qbar, 0), [0.0, 0.0])  # the favourite is free
        assert min_pay_contract(np.array([[0.2, 0.8 - p / 2, p / 2], [0.2, 0.8 - q / 2, q / 2]]), qbar, 1) is None
    # Every outcome more likely by 1e-15 is a distribution normalised to 1 + 3e-15, not information: a
    # constant payment on all outcomes would buy nothing but rounding error.
    shifted = np.array([[0.2, 0.3, 0.5], [0.2 + 1e-15, 0.3 + 1e-15, 0.5 + 1e-15]])
    assert min_pay_contract(shifted, qbar, 1) is None


# ----------------------------------------------------------------------------- other exact solvers
def test_tree_contracts_scale_with_theta():
    inst = tree_instance("T2")
    ref = solve_tree_contracts(inst)
    for c in SCALES:
        sol = solve_tree_contracts(TreeInstance(inst.parents, tuple(c * t for t in inst.theta), name="scaled"))
        assert sol.welfare / c == pytest.approx(ref.welfare, rel=1e-9)
        np.testing.assert_array_equal(sol.action_profile(), ref.action_profile())
        for key, value in ref.transfers.items():
            assert sol.transfers[key] / c == pytest.approx(value, rel=1e-9, abs=1e-12)
        for key, value in ref.utilities.items():
            assert sol.utilities[key] / c == pytest.approx(value, rel=1e-9, abs=1e-12)


def test_incentive_design_equilibria_scale_with_the_payoffs():
    ref = escape_room_pure_equilibria(3, 2, schedule=(1.5, 0.0, 0.0))
    for c in SCALES:
        got = escape_room_pure_equilibria(3, 2, schedule=(1.5 * c, 0.0, 0.0), door_reward=10 * c, move_cost=c)
        np.testing.assert_array_equal(got, ref)
        lola = np.array([-1.0, -3.0, 0.0, -2.0]) * c
        assert pd_cooperation_dominant(1.0 * c, 0.0, lola)
        assert not pd_cooperation_dominant(0.99 * c, 0.0, lola)


@pytest.mark.parametrize("observed", [True, False])
def test_contract_bandit_scales_with_the_rewards(observed):
    rng = np.random.default_rng(4)
    probs = None if observed else rng.dirichlet(np.ones(3), size=4)
    inst = BanditInstance(-rng.uniform(0, 1, 4), rng.uniform(0, 3, 4 if observed else 3), probs)
    ref = solve_contract_bandit(inst)
    for c in SCALES:
        scaled = BanditInstance(c * inst.agent_values, c * inst.principal_values, inst.outcome_probs, name="scaled")
        sol = solve_contract_bandit(scaled)
        assert sol.action == ref.action and sol.no_contract_action == ref.no_contract_action
        for field in ("incentive", "principal_value", "agent_value", "welfare", "no_contract_value"):
            assert getattr(sol, field) / c == pytest.approx(getattr(ref, field), rel=1e-9, abs=1e-12), field
        np.testing.assert_allclose(sol.contract / c, ref.contract, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(sol.incentives / c, ref.incentives, rtol=1e-9, atol=1e-12)
