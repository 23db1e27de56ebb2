"""Exact best responses to fixed policies and incentives (``contract_envs.solvers.*_best_responses``).

Checked against the environments themselves (Monte Carlo returns of the same policies), the one-shot equilibrium
enumerators, and brute force over every deterministic time-dependent deviation."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import contract_envs.vector
from contract_envs import solvers
from contract_envs.solvers.incentive_design import escape_room_profiles

ER = "contract_envs/escape_room-v1"
PD = "contract_envs/prisoners_dilemma-v1"


def _random_policies(rng, shape, concentration=1.0):
    return rng.dirichlet(np.full(shape[-1], concentration), size=shape[:-1])


def _state_index_er(positions: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Index of ``escape_room_states`` for batched (positions, previous action); the start is 3^N."""
    n = positions.shape[1]
    index = (positions * 3 ** np.arange(n)).sum(1)
    return np.where((previous < 0).all(1), 3**n, index)


def test_escape_room_values_equal_monte_carlo_returns_of_the_environment():
    """The value of the joint policy (incentives included, discounted) is the mean return in the environment."""
    n, m, horizon, gamma, episodes = 3, 2, 4, 0.9, 40_000
    rng = np.random.default_rng(0)
    positions, previous = solvers.escape_room_states(n)
    policies = _random_policies(rng, (len(positions), n, 3))
    schedule = rng.uniform(0.0, 2.0, (len(positions), 3))
    check = solvers.escape_room_best_responses(n, m, policies, schedule, horizon=horizon, discount=gamma)

    env = contract_envs.vector.make(ER, episodes, seed=3, autoreset=False, n_agents=n, min_at_lever=m, horizon=horizon)
    env.reset()
    returns, alive = np.zeros((episodes, n)), np.ones(episodes, dtype=bool)
    for t in range(horizon):
        s = _state_index_er(env.state.pos, env.state.last_action)
        cum = policies[s].cumsum(-1)  # [B, N, 3]
        actions = (rng.random((episodes, n, 1)) > cum).sum(-1).clip(0, 2)
        step = {f"agent_{i}": actions[:, i] for i in range(n)}
        step["principal_0"] = schedule[s]
        _, rewards, terms, truncs, _ = env.step(step)
        returns += (gamma**t) * alive[:, None] * np.stack([rewards[f"agent_{i}"] for i in range(n)], 1)
        ended = terms["principal_0"] | truncs["principal_0"]
        alive &= ~ended
        if ended.any() and t + 1 < horizon:
            env.reset(env_idx=np.flatnonzero(ended))  # later steps of ended episodes are masked out
    se = returns.std(0) / np.sqrt(episodes)
    assert np.all(np.abs(returns.mean(0) - check.values) < 4 * se + 1e-9), (returns.mean(0), check.values)
    assert np.all(check.gains >= -1e-12) and check.gains.max() > 0.1  # random policies are far from best responses


@pytest.mark.parametrize("schedule", [(0.0, 0.0, 0.0), (1.2, 0.0, 0.0), (0.9, 0.0, 0.0), (1.5, 0.7, 0.3)])
def test_escape_room_one_round_agrees_with_the_equilibrium_enumerator(schedule):
    """With one round, a pure profile has no profitable deviation iff it is a pure equilibrium of the stage game."""
    n, m = 3, 2
    positions, _ = solvers.escape_room_states(n)
    equilibria = {tuple(p) for p in solvers.escape_room_pure_equilibria(n, m, schedule)}
    table = np.broadcast_to(np.asarray(schedule), (len(positions), 3))
    for profile in escape_room_profiles(n):
        policies = np.full((len(positions), n, 3), 1.0 / 3)
        policies[-1] = np.eye(3)[profile]  # only the start matters with one round
        check = solvers.escape_room_best_responses(n, m, policies, table, horizon=1)
        assert check.is_equilibrium(1e-9) == (tuple(profile) in equilibria), profile


def test_escape_room_paying_below_one_cannot_sustain_the_lever_agents():
    """The situation reported for ER(3,2): lever agents pulling although paid 0.63 are not best-responding."""
    n, m = 3, 2
    positions, _ = solvers.escape_room_states(n)
    policies = np.eye(3)[positions]  # stay where you are...
    policies[-1] = np.eye(3)[[0, 0, 2]]  # ...after the optimal first round from the start
    for lever, sustained in ((0.63, False), (1.05, True)):
        table = np.zeros((len(positions), 3))
        table[-1, 0] = lever  # paid at the start only
        check = solvers.escape_room_best_responses(n, m, policies, table, horizon=5, discount=0.99)
        # a lever agent that stays at the start gets 0 instead of lever - 1, and nothing better later
        assert check.gains[:2] == pytest.approx([1.0 - lever, 1.0 - lever] if not sustained else [0.0, 0.0])
        assert check.gains[2] == pytest.approx(0.0)
        assert check.is_equilibrium() == sustained
        assert list(check.best_first_actions[:2]) == ([1, 1] if not sustained else [0, 0])
    # undiscounted, the door agent can pull the lever for 1.05 first and walk through the door next round (the
    # lever agents stay at the lever, which keeps the door open): a dynamic deviation the stage game misses
    check = solvers.escape_room_best_responses(n, m, policies, table, horizon=5, discount=1.0)
    assert check.gains == pytest.approx([0.0, 0.0, 0.05]) and list(check.best_first_actions) == [0, 0, 0]
    assert solvers.escape_room_sustains_optimum(n, m, table[-1])


def _pd_brute_force_best_value(policy_other, schedule, horizon, agent, payoffs=(-1.0, -3.0, 0.0, -2.0)):
    """Best value of ``agent`` over every deterministic policy that maps (round, state) to an action."""
    r, s, t, p = payoffs
    matrix = np.array([[r, s], [t, p]])
    states_at = [[4]] + [[0, 1, 2, 3]] * (horizon - 1)
    slots = [(k, st) for k in range(horizon) for st in states_at[k]]
    best = -np.inf
    for choice in itertools.product((0, 1), repeat=len(slots)):
        plan = dict(zip(slots, choice, strict=True))
        dist, value = {4: 1.0}, 0.0
        for k in range(horizon):
            nxt: dict[int, float] = {}
            for st, prob in dist.items():
                mine = plan[(k, st)]
                for theirs in (0, 1):
                    q = prob * policy_other[st, theirs]
                    if q == 0.0:
                        continue
                    joint = (mine, theirs) if agent == 0 else (theirs, mine)
                    value += q * (matrix[mine, theirs] + schedule[st, mine])
                    nxt[2 * joint[0] + joint[1]] = nxt.get(2 * joint[0] + joint[1], 0.0) + q
            dist = nxt
        best = max(best, value)
    return best


@pytest.mark.parametrize("seed", range(4))
def test_pd_best_values_equal_brute_force_over_dynamic_deviations(seed):
    """History-dependent schedules make deviations dynamic; backward induction finds the best of all 512 plans."""
    rng = np.random.default_rng(seed)
    horizon = 3
    policies = _random_policies(rng, (5, 2, 2), 0.5)
    schedule = rng.uniform(0.0, 3.0, (5, 2))
    check = solvers.pd_best_responses(policies, schedule, horizon=horizon)
    for agent in (0, 1):
        brute = _pd_brute_force_best_value(policies[:, 1 - agent], schedule, horizon, agent)
        assert check.best_values[agent] == pytest.approx(brute, abs=1e-12)


def test_pd_without_incentives_defection_is_the_best_response_to_anything():
    rng = np.random.default_rng(1)
    policies = _random_policies(rng, (5, 2, 2))
    check = solvers.pd_best_responses(policies, np.zeros((5, 2)), horizon=5)
    assert list(check.best_first_actions) == [1, 1]
    # the gain of switching to D everywhere is exactly 1 per round in which the agent would have cooperated
    always_c = np.zeros((5, 2, 2))
    always_c[..., 0] = 1.0
    check = solvers.pd_best_responses(always_c, np.zeros((5, 2)), horizon=5)
    assert check.gains == pytest.approx([5.0, 5.0])
    # a stage-game gap of 1 makes cooperation weakly dominant: no gain from deviating
    check = solvers.pd_best_responses(always_c, np.tile([1.0, 0.0], (5, 1)), horizon=5)
    assert check.gains == pytest.approx([0.0, 0.0]) and check.is_equilibrium()


def test_pd_history_dependent_schedule_sustains_cooperation_below_the_stage_threshold():
    """Two rounds; the schedule pays C 0.6 at the start (C is not dominant there) and 1 after mutual cooperation.
    Against grim agents (defect after any defection) cooperating at the start is a best response: a deviation
    gains 0.4 now and loses round 2's 0 - (-2) = 2."""
    always_c = np.zeros((5, 2, 2))
    always_c[..., 0] = 1.0
    grim = np.zeros((5, 2, 2))
    grim[[0, 4], :, 0] = 1.0  # cooperate at the start and after CC, defect otherwise
    grim[[1, 2, 3], :, 1] = 1.0
    schedule = np.zeros((5, 2))
    schedule[4, 0], schedule[0, 0] = 0.6, 1.0
    assert not solvers.pd_cooperation_dominant(0.6, 0.0)
    check = solvers.pd_best_responses(grim, schedule, horizon=2, discount=1.0)
    assert check.is_equilibrium() and list(check.best_first_actions) == [0, 0]
    check = solvers.pd_best_responses(always_c, schedule, horizon=2)
    assert check.gains == pytest.approx([0.4, 0.4])  # against unconditional cooperators there is no threat


def test_taxlite_equilibrium_labour_is_the_only_zero_gain_profile_among_neighbours():
    rate = 0.75
    eq = solvers.taxlite_equilibria(rate)
    assert len(eq) == 1
    check = solvers.taxlite_best_responses(rate, np.eye(11)[eq[0]])
    assert check.is_equilibrium(1e-9) and list(check.best_first_actions) == list(eq[0])
    rng = np.random.default_rng(0)
    for _ in range(10):
        profile = eq[0].copy()
        i = rng.integers(4)
        profile[i] = (profile[i] + rng.integers(1, 11)) % 11
        check = solvers.taxlite_best_responses(rate, np.eye(11)[profile])
        assert not check.is_equilibrium(1e-9) and check.gains[i] > 0
        assert list(check.best_first_actions) == [
            int(np.argmax(_taxlite_utilities(rate, profile, j))) for j in range(4)
        ]


def _taxlite_utilities(rate, profile, worker, skills=(1.0, 2.0, 4.0, 8.0)):
    """Worker's utility for every own labour level with the others at ``profile`` (plain loop)."""
    out = []
    for labour in range(11):
        trial = np.array(profile, dtype=float)
        trial[worker] = labour
        coin = solvers.taxlite_coin(trial, rate, skills)
        out.append((coin[worker] ** 0.77 - 1.0) / 0.77 - 0.8 * labour)
    return out


def test_best_response_inputs_are_validated():
    positions, _ = solvers.escape_room_states(2)
    good = np.full((len(positions), 2, 3), 1.0 / 3)
    with pytest.raises(ValueError, match="sum to 1"):
        solvers.escape_room_best_responses(2, 1, good * 2.0, np.zeros((len(positions), 3)))
    with pytest.raises(ValueError, match="shape"):
        solvers.escape_room_best_responses(2, 1, good[:-1], np.zeros((len(positions), 3)))
    with pytest.raises(ValueError, match="schedule"):
        solvers.escape_room_best_responses(2, 1, good, np.zeros((3,)))
    with pytest.raises(ValueError, match="n_agents <= 6"):
        solvers.escape_room_best_responses(7, 1, good, np.zeros((3,)))
    with pytest.raises(ValueError, match="horizon"):
        solvers.escape_room_best_responses(2, 1, good, np.zeros((len(positions), 3)), horizon=0)
    with pytest.raises(ValueError, match="rate"):
        solvers.taxlite_best_responses(1.5, np.full((4, 11), 1 / 11))


def test_payments_per_joint_action_generalise_the_schedule():
    """A designer that sees the current joint action gives payments [S, J, N]; a per-action schedule written in
    that form gives the same answer, and paying the lever agents only on the optimal joint action still sustains
    the optimum (a deviation then forfeits the payment)."""
    n, m = 3, 2
    rng = np.random.default_rng(4)
    positions, _ = solvers.escape_room_states(n)
    profiles = escape_room_profiles(n)
    policies = _random_policies(rng, (len(positions), n, 3))
    schedule = rng.uniform(0, 2, (len(positions), 3))
    expanded = schedule[:, profiles]  # [S, J, N]: the entry of each agent's own action
    a = solvers.escape_room_best_responses(n, m, policies, schedule)
    b = solvers.escape_room_best_responses(n, m, policies, expanded)
    assert np.allclose(a.values, b.values) and np.allclose(a.best_values, b.best_values)
    optimum = np.flatnonzero((profiles == [0, 0, 2]).all(1))[0]
    payments = np.zeros((len(positions), len(profiles), n))
    payments[-1, optimum, :2] = 1.05
    plan = np.eye(3)[positions]
    plan[-1] = np.eye(3)[[0, 0, 2]]
    check = solvers.escape_room_best_responses(n, m, plan, payments, discount=0.99)
    assert check.is_equilibrium() and check.values == pytest.approx([0.05, 0.05, 10.0])


def test_taxlite_randomised_rate_expects_utilities_over_the_rate():
    """Against a planner that draws 0.7 or 0.8 with probability 1/2 each, a worker's best response maximises its
    expected utility; a point mass reproduces the fixed-rate answer."""
    policies = np.eye(11)[[0, 0, 9, 10]]
    fixed = solvers.taxlite_best_responses(0.75, policies)
    point = solvers.taxlite_best_responses([0.75, 0.3], policies, rate_weights=[1.0, 0.0])
    assert np.allclose(fixed.best_values, point.best_values)
    mixed = solvers.taxlite_best_responses([0.7, 0.8], policies, rate_weights=[0.5, 0.5])
    low = solvers.taxlite_best_responses(0.7, policies)
    high = solvers.taxlite_best_responses(0.8, policies)
    assert np.allclose(mixed.values, 0.5 * (low.values + high.values))
    assert np.all(mixed.best_values <= 0.5 * (low.best_values + high.best_values) + 1e-12)
    with pytest.raises(ValueError, match="rate_weights"):
        solvers.taxlite_best_responses([0.7, 0.8], policies, rate_weights=[1.0])


def test_taxlite_continuous_optimum_beats_the_grid_at_a_breakpoint():
    """The planner's rate is continuous: the optimum sits where the skill-4 worker stops working 10 (t = 0.7429),
    above the 0.05 grid's 93.0 at t = 0.75. Just below it the equilibrium is unique and attains the value."""
    opt = solvers.taxlite_continuous_optimum(tol=1e-7)
    grid = solvers.taxlite_solve()
    assert 0.74 < opt.rate < 0.75 and list(opt.labour) == [0, 0, 10, 10]
    assert opt.objective == pytest.approx(96.0067, abs=1e-3) and opt.objective > grid.objective.max() + 2.9
    below = solvers.taxlite_equilibria(opt.rate - 1e-5)
    assert below.tolist() == [[0, 0, 10, 10]]
    above = solvers.taxlite_equilibria(opt.rate + 1e-5)
    assert [0, 0, 10, 10] not in above.tolist()
    # productivity x equality is linear in the rate for fixed labour (so interval ends are the candidates)
    values = []
    for rate in (0.60, 0.65, 0.70):
        prod, equal = solvers.productivity_and_equality(solvers.taxlite_coin(np.array([0, 0, 10, 10]), rate))
        values.append(float(prod * equal))
    assert values[1] - values[0] == pytest.approx(values[2] - values[1]) and values[1] > values[0]
    prod, equal = solvers.productivity_and_equality(solvers.taxlite_coin(opt.labour, opt.rate))
    assert float(prod * equal) == pytest.approx(opt.objective)
