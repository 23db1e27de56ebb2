"""Tax economy: TaxLite's exact answers played through the env, bracket arithmetic, tax accounting."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs import solvers
from contract_envs.contracts import PolicyTerms
from contract_envs.games.tax_economy import US_FEDERAL_2018_RATES, US_FEDERAL_CUTOFFS, isoelastic_utility
from contract_envs.solvers.incentive_design import taxlite_coin
from tests.battery import run_battery
from tests.incentive_helpers import new_game

TAX = "contract_envs/tax_economy-v1"


@pytest.fixture(scope="module")
def solution():
    return solvers.taxlite_solve()


def test_battery_with_us_federal_brackets():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(TAX, {"tax_model": "us_federal", "horizon": 20})


def play_taxlite(rates, labour):
    """One TaxLite episode per row: planner rate ``rates[b]``, labour ``labour[b]``."""
    labour = np.asarray(labour)
    env = contract_envs.vector.make(TAX, len(labour), seed=0)
    actions = {"principal_0": np.asarray(rates, dtype=np.float64).reshape(-1, 1)}
    actions.update({f"agent_{i}": labour[:, i] for i in range(4)})
    _, rewards, terms, truncs, infos = env.step(actions)
    assert np.all(truncs["agent_0"]) and not np.any(terms["agent_0"])
    return rewards, infos


def test_exact_answers_reproduced_through_the_env(solution):
    """The solver's equilibrium at every rate, played through the env, gives the solver's objective."""
    rewards, infos = play_taxlite(solution.rates, solution.labour)
    np.testing.assert_allclose(infos["principal_0"]["equality_times_productivity"], solution.objective, atol=1e-9)
    np.testing.assert_allclose(rewards["principal_0"], solution.objective, atol=1e-9)
    objective = dict(zip(np.round(solution.rates, 2), rewards["principal_0"], strict=True))
    assert objective[0.75] == pytest.approx(93.0) and max(objective.values()) == pytest.approx(93.0)
    assert objective[0.25] == pytest.approx(72.5)
    assert objective[0.0] == pytest.approx(59.0 + 1 / 3)
    assert objective[0.25] > objective[0.2] and objective[0.25] > objective[0.3]  # local optimum
    i = solution.at(0.75)
    np.testing.assert_array_equal(solution.labour[i], [0, 0, 9, 10])
    assert infos["principal_0"]["productivity"][i] == 116.0
    assert infos["principal_0"]["equality"][i] == pytest.approx(0.8017, abs=1e-4)
    assert solution.best_rate == 0.75 and solution.best_objective == pytest.approx(93.0)
    np.testing.assert_array_equal(solution.n_equilibria, 1)


@pytest.mark.parametrize("rate", [0.0, 0.25, 0.75, 1.0])
def test_equilibrium_checked_through_the_env_by_every_unilateral_deviation(rate, solution):
    eq = solution.labour[solution.at(rate)]
    deviations = [eq.copy()]
    for i, d in itertools.product(range(4), range(11)):
        dev = eq.copy()
        dev[i] = d
        deviations.append(dev)
    rewards, _ = play_taxlite(np.full(len(deviations), rate), deviations)
    for k, (i, _) in enumerate(itertools.product(range(4), range(11)), start=1):
        assert rewards[f"agent_{i}"][k] <= rewards[f"agent_{i}"][0] + 1e-12


def test_agent_reward_is_the_isoelastic_utility_of_post_tax_coin():
    labour = np.array([[0, 0, 9, 10]])
    rewards, infos = play_taxlite([0.75], labour)
    coin = taxlite_coin(labour, 0.75)[0]
    np.testing.assert_allclose(coin, [21.75, 21.75, 30.75, 41.75])
    for i in range(4):
        assert rewards[f"agent_{i}"][0] == pytest.approx(isoelastic_utility(coin[i], labour[0, i], 0.23, 0.8))
        assert infos[f"agent_{i}"]["coin"][0] == pytest.approx(coin[i])
    # taxes and the lump sum are ledger transfers; the planner's budget balances
    assert infos["principal_0"]["transfer_in"][0] == pytest.approx(0.75 * 116)
    assert infos["principal_0"]["transfer_out"][0] == pytest.approx(0.75 * 116)
    assert infos["principal_0"]["utility"][0] == pytest.approx(0.0, abs=1e-12)
    assert infos["principal_0"]["payment"][0] == 0.0  # rates are a policy, never a payment
    assert infos["agent_3"]["transfer_out"][0] == pytest.approx(60.0)
    assert infos["agent_3"]["transfer_in"][0] == pytest.approx(87.0 / 4)


def test_taxlite_solver_matches_python_brute_force_on_a_small_instance():
    skills, levels, kappa, eta = (1.0, 3.0), 4, 0.5, 0.23

    def utility(rate, profile, i):
        z = np.array(skills) * np.array(profile)
        coin = (1 - rate) * z[i] + rate * z.mean()
        return (coin ** (1 - eta) - 1) / (1 - eta) - kappa * profile[i]

    for rate in (0.0, 0.3, 0.6, 0.9):
        brute = []
        for profile in itertools.product(range(levels), repeat=2):
            stable = True
            for i in range(2):
                for d in range(levels):
                    deviation = tuple(d if j == i else profile[j] for j in range(2))
                    stable &= utility(rate, profile, i) >= utility(rate, deviation, i) - 1e-9
            if stable:
                brute.append(profile)
        fast = solvers.taxlite_equilibria(rate, skills, levels - 1, kappa, eta)
        assert sorted(map(tuple, fast.tolist())) == sorted(brute)


def test_us_federal_bracket_arithmetic_through_the_env():
    env = contract_envs.vector.make(
        TAX, 1, seed=0, tax_model="us_federal", horizon=2, period_length=1, skills=(10.0, 1.0)
    )
    rates = np.array([US_FEDERAL_2018_RATES])
    _, _, _, _, infos = env.step({"principal_0": rates, "agent_0": [10], "agent_1": [5]})
    cut = US_FEDERAL_CUTOFFS
    due_100 = 0.10 * cut[1] + 0.12 * (cut[2] - cut[1]) + 0.22 * (cut[3] - cut[2]) + 0.24 * (100 - cut[3])
    due_5 = 0.10 * 5
    assert infos["agent_0"]["transfer_out"][0] == pytest.approx(due_100)
    assert infos["agent_1"]["transfer_out"][0] == pytest.approx(due_5)
    assert infos["principal_0"]["tax_revenue"][0] == pytest.approx(due_100 + due_5)
    lump = (due_100 + due_5) / 2
    assert infos["agent_1"]["coin"][0] == pytest.approx(5 - due_5 + lump)
    # the top bracket is open-ended: 1000 coin pays 0.37 on everything above 510.3
    env = contract_envs.vector.make(TAX, 1, seed=0, tax_model="us_federal", horizon=1, skills=(100.0, 1.0))
    _, _, _, _, infos = env.step({"principal_0": np.zeros((1, 7)) + np.eye(7)[6], "agent_0": [10], "agent_1": [0]})
    assert infos["agent_0"]["transfer_out"][0] == pytest.approx(0.37 * 0 + 1.0 * (1000 - 510.3))


def test_rates_are_set_at_period_start_and_taxes_collected_at_period_end():
    env = contract_envs.vector.make(TAX, 1, seed=0, autoreset=False, tax_model="us_federal", horizon=6, period_length=3)
    us = np.array([US_FEDERAL_2018_RATES])
    coins, revenue, rates_seen, rates_state = [], [], [], []
    for t in range(6):
        schedule = us if t % 3 == 0 else np.ones((1, 7))  # mid-period actions must be ignored
        _, _, _, _, infos = env.step({"principal_0": schedule, **{f"agent_{i}": [10] for i in range(4)}})
        revenue.append(infos["principal_0"]["tax_revenue"][0])
        rates_seen.append(infos["principal_0"]["rate_6"][0])
        rates_state.append(env.state.rates[0].copy())
        coins.append(sum(infos[f"agent_{i}"]["coin"][0] for i in range(4)))
    assert rates_seen == [0.37] * 6
    np.testing.assert_array_equal(rates_state, np.repeat(us, 6, axis=0))  # the rates in force live in the state
    assert revenue[0] == revenue[1] == revenue[3] == revenue[4] == 0.0
    assert revenue[2] > 0 and revenue[5] == pytest.approx(revenue[2])
    # redistribution conserves coin: total coin = total income (150 per step)
    np.testing.assert_allclose(coins, 150.0 * np.arange(1, 7))


def test_episode_return_is_final_utility_and_planner_return_is_final_objective():
    env = contract_envs.vector.make(
        TAX, 1, seed=0, tax_model="us_federal", horizon=10, period_length=5, starting_coin=10.0
    )
    rng = np.random.default_rng(0)
    returns = np.zeros(5)
    for _ in range(10):
        actions = {
            "principal_0": rng.uniform(0, 1, (1, 7)),
            **{f"agent_{i}": rng.integers(11, size=1) for i in range(4)},
        }
        _, rewards, _, truncs, infos = env.step(actions)
        returns += [rewards["principal_0"][0]] + [rewards[f"agent_{i}"][0] for i in range(4)]
    assert truncs["agent_0"][0]
    assert returns[0] == pytest.approx(infos["principal_0"]["equality_times_productivity"][0])
    coin = np.array([infos[f"agent_{i}"]["coin"][0] for i in range(4)])
    labour = np.array([infos[f"agent_{i}"]["episode_own_reward"][0] for i in range(4)]) / np.array([1, 2, 4, 8])
    np.testing.assert_allclose(returns[1:], isoelastic_utility(coin, labour, 0.23, 0.8))
    assert coin.sum() == pytest.approx(40.0 + infos["principal_0"]["episode_welfare"][0])


def test_planner_view_scores_the_optimal_flat_rate():
    from contract_envs.views import PrincipalGymEnv

    equilibrium = {"agent_0": 0, "agent_1": 0, "agent_2": 9, "agent_3": 10}  # TaxLite's equilibrium at t* = 0.75
    planner = PrincipalGymEnv(TAX, agent_policy=lambda agent, obs: equilibrium[agent])
    planner.reset(seed=0)
    _, reward, _, truncated, info = planner.step(np.array([0.75], np.float32))
    assert reward == pytest.approx(93.0) and truncated
    assert info["equality_times_productivity"] == pytest.approx(93.0)


def test_planner_move_is_a_policy_handed_to_step_as_rates():
    game, state, rng = new_game(TAX, 2, tax_model="us_federal", horizon=4, period_length=2)
    assert game.principal == PolicyTerms((7,), 0.0, 1.0, label="tax rates")
    assert game.action_space("principal_0").shape == (7,)
    rates = np.array([US_FEDERAL_2018_RATES, np.full(7, 0.5)])
    tr = game.step(state, np.full((2, 4), 10), rates, rng)
    np.testing.assert_array_equal(state.rates, rates)  # set at the period's first round, kept in the state
    assert tr.outcomes is None  # no outcome-contingent payment: no outcomes
    state.t += 1  # the stage machine counts rounds; mid-period the planner's move is ignored
    game.step(state, np.zeros((2, 4), np.int64), np.ones((2, 7)), rng)
    np.testing.assert_array_equal(state.rates, rates)
    env = contract_envs.make("parallel", TAX)
    env.reset(seed=0)
    _, _, _, _, infos = env.step({"principal_0": np.array([0.5]), **{f"agent_{i}": 1 for i in range(4)}})
    assert infos["agent_0"]["outcome"] == -1 and list(infos["principal_0"]["outcomes"]) == [-1] * 4
    with pytest.raises(ValueError, match=r"principal_0: tax rates entry 0 is 1.5; allowed range is \[0.0, 1.0\]"):
        env.reset(seed=0)
        env.step({"principal_0": np.array([1.5]), **{f"agent_{i}": 1 for i in range(4)}})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"horizon": 2.5}, r"horizon \(rounds per episode\) must be an integer in \[1, inf\)"),
        ({"horizon": float("nan")}, "horizon"),
        ({"horizon": 0}, "horizon"),
        ({"period_length": 1.5}, r"period_length \(rounds per tax period\) must be an integer"),
        ({"period_length": float("inf")}, "period_length"),
        ({"max_labour": 2.5}, r"max_labour must be an integer in \[1, inf\), got 2.5"),
        ({"max_labour": 0}, "max_labour"),
        ({"skills": (1.0, float("nan"))}, "skills contains NaN or inf"),
        ({"skills": (1.0, float("inf"))}, "skills contains NaN or inf"),
        ({"skills": (1.0, -2.0)}, "skills must be >= 2 finite numbers, each > 0"),
        ({"skills": (3.0,)}, "skills must be >= 2"),
        ({"skills": ("a", "b")}, "skills must be an array of finite real numbers"),
        ({"skills": ((1.0, 2.0), (3.0, 4.0))}, "skills must have 1 dimension"),
        ({"labour_cost": float("nan")}, r"labour_cost must be a finite real number in \[0.0, inf\)"),
        ({"labour_cost": -0.1}, "labour_cost"),
        ({"isoelastic_eta": 1.0}, r"isoelastic_eta must be a finite real number in \[0.0, 1.0\)"),
        ({"isoelastic_eta": float("nan")}, "isoelastic_eta"),
        ({"starting_coin": float("inf")}, "starting_coin must be a finite real number"),
        ({"tax_model": "saez"}, "tax_model must be one of"),
    ],
)
def test_constructor_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        contract_envs.vector.make(TAX, 1, **kwargs)
