"""Exact answers of the incentive-design solvers against closed forms and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from contract_envs import solvers


@pytest.mark.parametrize(("n", "m"), [(n, m) for n in range(1, 7) for m in range(1, n + 1)])
def test_escape_room_formula_matches_enumeration(n, m):
    value, profile = solvers.escape_room_max_welfare_enumerated(n, m)
    assert value == solvers.escape_room_max_welfare(n, m) == max(10 * (n - m) - m, 0)
    np.testing.assert_array_equal(solvers.escape_room_pure_equilibria(n, m), [[1] * n])
    if 10 * (n - m) - m > 0:
        assert sorted(profile.tolist()) == [0] * m + [2] * (n - m)
        assert solvers.escape_room_sustains_optimum(n, m, (1.001, 0.0, 0.0))
        assert not solvers.escape_room_sustains_optimum(n, m, (0.999, 0.0, 0.0))
        assert solvers.escape_room_best_designer_return(n, m) == 10 * (n - m) - 2 * m


def test_escape_room_equilibria_against_python_loops():
    """The vectorised deviation check against a plain loop over profiles and deviations (ER(3, 2))."""
    n, m = 3, 2
    rng = np.random.default_rng(0)
    for _ in range(20):
        schedule = rng.uniform(0, 2, 3)

        def payoff(profile, i, schedule=schedule):
            open_ = sum(a == 0 for a in profile) >= m
            base = 10.0 if (open_ and profile[i] == 2) else (0.0 if profile[i] == 1 else -1.0)
            return base + schedule[profile[i]]

        brute = []
        for p in itertools.product(range(3), repeat=n):
            stable = all(
                payoff(p, i) >= payoff(p[:i] + (d,) + p[i + 1 :], i) - 1e-9 for i in range(n) for d in range(3)
            )
            if stable:
                brute.append(p)
        fast = [tuple(p) for p in solvers.escape_room_pure_equilibria(n, m, schedule)]
        assert sorted(fast) == sorted(brute)


def test_escape_room_discrete_designer_values():
    assert solvers.escape_room_best_designer_return(2, 1, values=[0.0, 1.1]) == pytest.approx(7.9)
    assert solvers.escape_room_best_designer_return(3, 2, values=[0.0, 1.1]) == pytest.approx(5.8)
    assert solvers.escape_room_best_designer_return(5, 2, values=[0.0, 1.1]) == pytest.approx(25.8)
    # no value above 1 in the set: the designer cannot sustain the optimum, everyone stays
    assert solvers.escape_room_best_designer_return(5, 2, values=[0.0, 0.5, 1.0]) == 0.0
    with pytest.raises(ValueError, match="min_at_lever"):
        solvers.escape_room_max_welfare(2, 3)


def test_taxlite_table_matches_the_reference_values():
    sol = solvers.taxlite_solve()
    expected = {
        0.0: ((3, 10, 10, 10), 59.333),
        0.25: ((0, 9, 10, 10), 72.5),
        0.4: (None, 64.0),
        0.7: ((0, 0, 10, 10), 92.0),
        0.75: ((0, 0, 9, 10), 93.0),
        0.8: (None, 75.2),
        1.0: ((0, 0, 0, 10), 80.0),
    }
    for rate, (labour, value) in expected.items():
        i = sol.at(rate)
        assert sol.objective[i] == pytest.approx(value, abs=1e-3)
        if labour is not None:
            assert tuple(sol.labour[i]) == labour
    assert len(sol.rates) == 21 and sol.best_rate == 0.75
    assert sol.productivity[sol.at(0.75)] == 116.0
    # non-concave: a local maximum at 0.25 below the global one
    i = sol.at(0.25)
    assert sol.objective[i - 1] < sol.objective[i] > sol.objective[i + 1] and sol.objective[i] < sol.best_objective


def test_taxlite_degenerate_instance_with_ai_economist_labour_cost():
    sol = solvers.taxlite_solve(labour_cost=0.21)
    for rate in (0.0, 0.35, 0.7):
        np.testing.assert_array_equal(sol.labour[sol.at(rate)], [10, 10, 10, 10])
    assert sol.best_rate == 1.0


def test_taxlite_rejects_off_grid_rates_and_huge_enumerations():
    sol = solvers.taxlite_solve(rates=[0.0, 0.5])
    with pytest.raises(ValueError, match="not on the grid"):
        sol.at(0.25)
    with pytest.raises(ValueError, match="too many to enumerate"):
        solvers.taxlite_equilibria(0.5, skills=(1, 2, 3, 4, 5, 6, 7), max_labour=10)
    with pytest.raises(ValueError, match="T > S"):
        solvers.reward_transfer_threshold((1, 2, 2, 0))
