"""Exact Coin Game optimum (contract_envs.solvers.coin_game): brute force, simulation in the env, bounds."""

import functools
import itertools
import math

import numpy as np
import pytest

import contract_envs.vector
from contract_envs.games.coin_game import SelfishCoinAgent, coin_game_rules
from contract_envs.solvers import (
    coin_game_state_from_observation,
    coin_game_welfare_upper_bound,
    solve_coin_game_principal,
    solve_coin_game_welfare,
)
from contract_envs.solvers.coin_game import selfish_agent_values

ENV_ID = "contract_envs/coin_game-v1"
STEPS = ((0, 1), (0, -1), (1, 0), (-1, 0), (0, 0))


# --------------------------------------------------------------------------- brute force
def brute_force(rules, welfare_weight=1.0, selfish_discount=None):
    """Plain recursive expectimax over the full game tree, written from the documented rules alone.

    Returns ``value(state, t)`` (state = (agent cells, coin cells, coin colours)) and the expected
    optimal value from the start distribution. With ``selfish_discount`` the objective is the
    principal's against SelfishCoinAgent agents: ``welfare_weight * welfare`` minus the cheapest
    payments ``max_b score(b) - score(a)`` that make each agent take its part of the joint action.
    """
    g, n, horizon = rules.grid_size, rules.n_agents, rules.horizon
    cells = g * g
    actions = range(rules.n_actions)

    def moved(cell, action):
        row, col = divmod(cell, g)
        return ((row + STEPS[action][0]) % g) * g + (col + STEPS[action][1]) % g

    def distance(a, b):
        dr, dc = abs(a // g - b // g), abs(a % g - b % g)
        return min(dr, g - dr) + min(dc, g - dc)

    def spawn_cells(agents):
        return list(range(cells)) if rules.spawn_on_agents else [c for c in range(cells) if c not in agents]

    def starts():
        out = []
        if rules.start_overlap:
            placements = [(p, 1.0 / cells**n) for p in itertools.product(range(cells), repeat=n)]
        else:
            placements = [
                (p, 1.0 / math.prod(cells - i for i in range(n))) for p in itertools.permutations(range(cells), n)
            ]
        for agents, p_agents in placements:
            free = spawn_cells(agents)
            if rules.coins == "per_agent":
                for coins in itertools.product(free, repeat=n):
                    out.append(((agents, coins, tuple(range(n))), p_agents / len(free) ** n))
            else:
                for coin, colour in itertools.product(free, range(n)):
                    out.append(((agents, (coin,), (colour,)), p_agents / len(free) / n))
        return out

    start_states = starts()

    def welfare_of(pickers_by_coin, colours):
        rewards = [0.0] * n
        for pickers, colour in zip(pickers_by_coin, colours, strict=True):
            for j in pickers:
                if j == colour:
                    rewards[j] += rules.own_coin_reward + (rules.asymmetric_bonus if j == 0 else 0.0)
                else:
                    rewards[j] += rules.other_coin_reward
                    rewards[colour] -= rules.owner_penalty
        return sum(rewards)

    def winners(landers):
        if not landers:
            return [(1.0, ())]
        if rules.tie_rule == "all":
            return [(1.0, tuple(landers))]
        if rules.tie_rule == "first":
            return [(1.0, (landers[0],))]
        return [(1.0 / len(landers), (j,)) for j in landers]

    def outcomes(agents, coins, colours, last):
        """(probability, welfare, next state) after the agents moved to ``agents`` (``last``: no next state)."""
        landers = [[i for i in range(n) if agents[i] == c] for c in coins]
        result = []
        for picks in itertools.product(*(winners(lst) for lst in landers)):
            p_pick = math.prod(p for p, _ in picks)
            welfare = welfare_of([w for _, w in picks], colours)
            if last:
                result.append((p_pick, welfare, None))
                continue
            taken = [bool(lst) for lst in landers]
            free = spawn_cells(agents)
            cell_options = [free if t else [c] for t, c in zip(taken, coins, strict=True)]
            if rules.coins == "per_agent":
                colour_options = [[k] for k in colours]
            elif rules.coins == "cycle":
                colour_options = [[(colours[0] + 1) % n] if taken[0] else [colours[0]]]
            else:
                colour_options = [list(range(n)) if taken[0] else [colours[0]]]
            for new_coins in itertools.product(*cell_options):
                for new_colours in itertools.product(*colour_options):
                    p = p_pick / math.prod(len(o) for o in cell_options) / math.prod(len(o) for o in colour_options)
                    result.append((p, welfare, (agents, new_coins, new_colours)))
        return result

    def payment(agent, cell, coins, colours, action):
        own = rules.own_coin_reward + (rules.asymmetric_bonus if agent == 0 else 0.0)
        worth = {}
        for c, colour in zip(coins, colours, strict=True):
            if colour == agent:
                worth[c] = own
            elif worth.get(c) != own:
                worth[c] = rules.other_coin_reward
        score = [
            max([0.0] + [selfish_discount ** distance(moved(cell, a), c) * w for c, w in worth.items()])
            for a in actions
        ]
        return max(score) - score[action]

    @functools.cache
    def value(state, t):
        if t == horizon:
            return 0.0
        agents, coins, colours = state
        boundary = (
            rules.inner_episode_length is not None and (t + 1) % rules.inner_episode_length == 0 and t + 1 < horizon
        )
        best = -math.inf
        for joint in itertools.product(actions, repeat=n):
            new = tuple(moved(c, a) for c, a in zip(agents, joint, strict=True))
            total = 0.0
            for p, welfare, nxt in outcomes(new, coins, colours, last=t + 1 == horizon):
                cont = start_value(t + 1) if boundary else value(nxt, t + 1)
                total += p * (welfare_weight * welfare + cont)
            if selfish_discount is not None:
                total -= sum(payment(i, agents[i], coins, colours, joint[i]) for i in range(n))
            best = max(best, total)
        return best

    @functools.cache
    def start_value(t):
        return sum(p * value(s, t) for s, p in start_states)

    return value, start_value(0)


def _state_tuples(rules):
    """Every entry of the DP's table as a brute-force state, with its table index."""
    c = rules.grid_size**2
    axes = (c, c, c, c) if rules.coins == "per_agent" else (c, c, c, rules.n_agents)
    for index in itertools.product(*(range(k) for k in axes)):
        if rules.coins == "per_agent":
            yield index, ((index[0], index[1]), (index[2], index[3]), (0, 1))
        else:
            yield index, ((index[0], index[1]), (index[2],), (index[3],))


TINY = {
    "parl_3x3": dict(grid_size=2, horizon=3),
    "rllib": dict(grid_size=2, horizon=3),
    "lola": dict(grid_size=2, horizon=3),
    "jaxmarl": dict(grid_size=2, horizon=4, inner_episode_length=2),
    "parl_3x3 random colours, first tie": dict(grid_size=2, horizon=3, coins="random", tie_rule="first"),
    "rllib asymmetric, spawn on agents": dict(
        grid_size=2, horizon=3, asymmetric_bonus=3.0, spawn_on_agents=True, start_overlap=True
    ),
    "jaxmarl no stay, random tie, no spawn on agents": dict(
        grid_size=2,
        horizon=3,
        stay_action=False,
        tie_rule="random",
        spawn_on_agents=False,
        start_overlap=False,
        inner_episode_length=None,
    ),
    "lola 3x3 with stay": dict(grid_size=3, horizon=2, stay_action=True),
}


@pytest.mark.parametrize("case", sorted(TINY))
def test_dp_matches_brute_force_on_tiny_games(case):
    rules = coin_game_rules(case.split()[0], **TINY[case])
    solution = solve_coin_game_welfare(rules)
    value, expected = brute_force(rules)
    assert solution.value == pytest.approx(expected, rel=1e-9, abs=1e-12)
    for t in (0, 1):  # every state of the table, reachable or not
        for index, state in _state_tuples(rules):
            assert solution.values[t][index] == pytest.approx(value(state, t), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("case", ["parl_3x3", "jaxmarl", "rllib asymmetric, spawn on agents", "rllib asymmetric 3x3"])
def test_principal_dp_matches_brute_force(case):
    overrides = dict(grid_size=3, horizon=2, asymmetric_bonus=3.0) if case == "rllib asymmetric 3x3" else TINY[case]
    rules = coin_game_rules(case.split()[0], **overrides)
    solution = solve_coin_game_principal(rules, welfare_weight=3.0)
    value, expected = brute_force(rules, welfare_weight=3.0, selfish_discount=0.9)
    assert solution.value == pytest.approx(expected, rel=1e-9)
    for index, state in _state_tuples(rules):
        assert solution.values[0][index] == pytest.approx(value(state, 0), rel=1e-9, abs=1e-12)
    welfare = solve_coin_game_welfare(rules)
    assert solution.value < welfare.principal_upper_bound(3.0)  # some coin needs a payment


def test_inner_episodes_add_up():
    """With jaxmarl's inner episodes the optimum is the sum of the optima of the inner episodes."""
    jax = solve_coin_game_welfare(coin_game_rules("jaxmarl"), store_values=False)
    inner = solve_coin_game_welfare(coin_game_rules("jaxmarl", horizon=10, inner_episode_length=None))
    assert jax.value == pytest.approx(10 * inner.value, rel=1e-12)


# --------------------------------------------------------------------------- simulation in the env
def rollout(preset, policy, episodes, seed=0, **rules):
    """Welfare of each of ``episodes`` episodes of ``policy(t, obs) -> actions [B, N]`` in the batched env."""
    envs = contract_envs.vector.make(ENV_ID, episodes, seed=seed, preset=preset, principal=False, **rules)
    obs, _ = envs.reset(seed=seed)
    horizon = coin_game_rules(preset, **rules).horizon
    welfare = np.zeros(episodes)
    for t in range(horizon):
        actions = policy(t, obs)
        obs, rewards, _, truncs, _ = envs.step({a: actions[:, i] for i, a in enumerate(envs.agents)})
        welfare += sum(rewards[a] for a in envs.agents)
    assert truncs[envs.agents[0]].all()  # exactly one episode each
    return welfare


def dp_policy(solution):
    def policy(t, obs):
        agents, coins, colours = coin_game_state_from_observation(solution.rules, obs["agent_0"])
        return solution.actions(t, agents, coins, colours[:, 0])

    return policy


def chase_policy(rules, own_only, rng):
    """Each agent walks (from its own channel-swapped grid) towards the nearest coin (``own_only``: of its colour),
    ties at random; with no such coin a random move."""
    g = rules.grid_size
    rows, cols = np.divmod(np.arange(g * g), g)

    def act(grid):
        b = len(grid)
        planes = grid.reshape(b, 4, g * g)
        me = planes[:, 0].argmax(1)
        coins = planes[:, 2] if own_only else planes[:, 2] + planes[:, 3]
        best, best_d = np.zeros(b, dtype=np.int64), np.full(b, np.inf)
        for a in range(4):
            r, c = (me // g + STEPS[a][0]) % g, (me % g + STEPS[a][1]) % g
            dr, dc = np.abs(r[:, None] - rows), np.abs(c[:, None] - cols)
            d = np.where(coins > 0, np.minimum(dr, g - dr) + np.minimum(dc, g - dc), np.inf).min(1)
            d = d + 0.1 * rng.random(b)
            better = d < best_d
            best[better], best_d[better] = a, d[better]
        return np.where(coins.max(1) > 0, best, rng.integers(0, 4, b))

    return lambda t, obs: np.stack([act(obs[a]) for a in sorted(obs)], axis=1)


def _mean_se(x):
    return float(x.mean()), float(x.std(ddof=1) / np.sqrt(len(x)))


@pytest.mark.parametrize("preset", ["parl_3x3", "rllib", "lola", "jaxmarl", "parl_3x3 egocentric"])
def test_dp_policy_in_env_achieves_dp_value(preset):
    """The DP's greedy policy, fed the state decoded from agent_0's observation (egocentric: a translated
    state, which the toroidal game cannot tell apart), earns W* in the environment."""
    overrides = dict(obs_view="egocentric") if preset.endswith("egocentric") else {}
    solution = solve_coin_game_welfare(coin_game_rules(preset.split()[0], **overrides))
    welfare = rollout(preset.split()[0], dp_policy(solution), 2000, seed=11, **overrides)
    mean, se = _mean_se(welfare)
    assert abs(mean - solution.value) <= 4 * se + 1e-9, (mean, se, solution.value)


@pytest.mark.parametrize("preset", ["parl_3x3", "rllib"])
def test_dp_value_beats_scripted_policies(preset):
    rules = coin_game_rules(preset)
    solution = solve_coin_game_welfare(rules)
    optimum, _ = _mean_se(rollout(preset, dp_policy(solution), 2000, seed=5))
    for own_only in (False, True):
        mean, se = _mean_se(rollout(preset, chase_policy(rules, own_only, np.random.default_rng(1)), 2000, seed=5))
        assert mean <= solution.value + 4 * se
        assert mean < optimum - 4 * se  # the optimal policy is clearly better than chasing coins


def test_principal_policy_with_selfish_agents_in_env():
    """The principal's DP contracts, offered in the env, make SelfishCoinAgent agents take the DP's actions,
    and the principal's return matches the DP value."""
    rules = coin_game_rules("parl_3x3")
    solution = solve_coin_game_principal(rules)
    agent = SelfishCoinAgent(rules)
    b = 400
    envs = contract_envs.vector.make(ENV_ID, b, seed=3, preset="parl_3x3", principal=True)
    obs, _ = envs.reset(seed=3)
    total = np.zeros(b)
    for t in range(rules.horizon):
        agents, coins, colours = coin_game_state_from_observation(rules, obs["agent_0"]["grid"])
        target = solution.actions(t, agents, coins, colours[:, 0])
        contracts = solution.contracts(target, agents, coins, colours[:, 0])
        obs, *_ = envs.step({"principal_0": contracts})
        taken = np.array(
            [
                [agent(a, {"grid": obs[a]["grid"][e], "contract": obs[a]["contract"][e]}) for a in envs.agents]
                for e in range(b)
            ]
        )
        np.testing.assert_array_equal(taken, target)
        obs, rewards, *_ = envs.step({a: taken[:, i] for i, a in enumerate(envs.agents)})
        total += rewards["principal_0"]
    mean, se = _mean_se(total)
    assert abs(mean - solution.value) <= 4 * se, (mean, se, solution.value)
    assert solution.value <= solve_coin_game_welfare(rules).principal_upper_bound(10.0)


@pytest.mark.parametrize("preset", ["parl_3x3", "jaxmarl"])
def test_principal_without_budget_gets_the_selfish_agents_return(preset):
    """payment_cap=0: the principal can only let the agents pick (a tie to a higher index cannot be bought), so
    its DP value is the return of SelfishCoinAgent agents without contracts, simulated in the env."""
    overrides = dict(horizon=30) if preset == "jaxmarl" else {}
    rules = coin_game_rules(preset, **overrides)
    value = solve_coin_game_principal(rules, payment_cap=0.0).value
    agent = SelfishCoinAgent(rules)
    b = 300
    envs = contract_envs.vector.make(ENV_ID, b, seed=4, preset=preset, principal=True, **overrides)
    envs.reset(seed=4)
    total = np.zeros(b)
    for _ in range(rules.horizon):
        obs, *_ = envs.step({"principal_0": np.zeros((b, 2, rules.n_actions))})
        taken = np.array(
            [
                [agent(a, {"grid": obs[a]["grid"][e], "contract": obs[a]["contract"][e]}) for a in envs.agents]
                for e in range(b)
            ]
        )
        _, rewards, *_ = envs.step({a: taken[:, i] for i, a in enumerate(envs.agents)})
        total += rewards["principal_0"]
    mean, se = _mean_se(total)
    assert abs(mean - value) <= 4 * se, (mean, se, value)
    assert value < solve_coin_game_principal(rules).value - 20 * se  # paying helps


@pytest.mark.parametrize("preset", ["rllib", "jaxmarl"])
def test_selfish_values_match_the_agent(preset):
    """The re-derived SelfishCoinAgent scores give the exact price of every action: paying the gap (plus 1e-7)
    on an action makes the real agent take it, paying 1e-7 less than a positive gap does not."""
    rules = coin_game_rules(preset, asymmetric_bonus=3.0, other_coin_reward=0.5)
    agent = SelfishCoinAgent(rules)
    values = [selfish_agent_values(rules, i) for i in range(2)]
    b = 40
    envs = contract_envs.vector.make(
        ENV_ID, b, seed=9, preset=preset, principal=True, asymmetric_bonus=3.0, other_coin_reward=0.5
    )
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(3):
        obs, *_ = envs.step({"principal_0": np.zeros((b, 2, rules.n_actions))})
        agents, coins, colours = coin_game_state_from_observation(rules, obs["agent_0"]["grid"])
        coin_index = (coins[:, 0], coins[:, 1]) if rules.coins == "per_agent" else (coins[:, 0], colours[:, 0])
        for i, name in enumerate(envs.agents):
            score = values[i][(agents[:, i], *coin_index)]  # [B, A]
            for e in range(b):
                grid = obs[name]["grid"][e]
                for a in range(rules.n_actions):
                    gap = score[e].max() - score[e, a]
                    pay = np.zeros(rules.n_actions)
                    pay[a] = gap + 1e-7
                    assert agent(name, {"grid": grid, "contract": pay}) == a
                    if gap > 1e-6:
                        pay[a] = gap - 1e-7
                        assert agent(name, {"grid": grid, "contract": pay}) != a
                        checked += 1
        envs.step({a: rng.integers(0, rules.n_actions, b) for a in envs.agents})
    assert checked > 100


def test_state_decoding_is_the_same_in_every_layout():
    decoded = []
    for layout, view in (("chw", "swap"), ("hwc", "swap"), ("flat", "swap"), ("chw", "shared")):
        rules = coin_game_rules("parl_3x3", obs_layout=layout, obs_view=view)
        envs = contract_envs.vector.make(
            ENV_ID, 64, seed=2, preset="parl_3x3", principal=False, obs_layout=layout, obs_view=view
        )
        obs, _ = envs.reset(seed=2)
        decoded.append(coin_game_state_from_observation(rules, obs["agent_0"]))
    for other in decoded[1:]:
        for x, y in zip(decoded[0], other, strict=True):
            np.testing.assert_array_equal(x, y)
    agents, coins, colours = decoded[0]
    assert (agents[:, 0] != agents[:, 1]).all() and (coins[:, 0] != agents[:, 0]).all()
    assert set(colours[:, 0]) == {0, 1}


# --------------------------------------------------------------------------- bounds
@pytest.mark.parametrize("preset", ["parl_3x3", "rllib", "lola", "jaxmarl", "parl 5x5"])
def test_upper_bound_is_above_the_exact_optimum(preset):
    rules = coin_game_rules(preset.split()[0], **(dict(grid_size=5) if preset.endswith("5x5") else {}))
    exact = solve_coin_game_welfare(rules, store_values=False).value
    tight = coin_game_welfare_upper_bound(rules, method="configurations")
    assert exact - 1e-9 <= tight <= coin_game_welfare_upper_bound(rules, method="balls") + 1e-9
    assert tight < 1.15 * exact  # and informative


@pytest.mark.parametrize(
    "case",
    [
        ("parl_3x3", 3, {}),
        ("rllib", 2, {}),
        ("lola", 2, {}),
        ("jaxmarl", 1, dict(start_overlap=False, stay_action=False)),
    ],
)
def test_upper_bound_is_above_brute_force_for_three_agents(case):
    preset, rounds, extra = case
    rules = coin_game_rules(
        preset, **dict(TINY[preset], n_agents=3, horizon=rounds, inner_episode_length=None, **extra)
    )
    _, exact = brute_force(rules)
    for method in ("configurations", "balls"):
        assert coin_game_welfare_upper_bound(rules, method=method) >= exact - 1e-9


def test_upper_bound_is_above_scripted_welfare_for_three_agents():
    rules = coin_game_rules("parl_3x3", n_agents=3)
    bound = coin_game_welfare_upper_bound(rules)
    for own_only in (False, True):
        welfare = rollout("parl_3x3", chase_policy(rules, own_only, np.random.default_rng(0)), 1000, n_agents=3)
        mean, se = _mean_se(welfare)
        assert mean + 4 * se <= bound


# --------------------------------------------------------------------------- errors
def test_clear_errors():
    with pytest.raises(ValueError, match="n_agents=3"):
        solve_coin_game_welfare(coin_game_rules("parl_3x3", n_agents=3))
    with pytest.raises(ValueError, match="max_table_entries"):
        solve_coin_game_welfare(coin_game_rules("parl", grid_size=15))
    with pytest.raises(ValueError, match="max_configurations"):
        coin_game_welfare_upper_bound(coin_game_rules("parl", n_agents=5), method="configurations")
    large = coin_game_rules("parl", n_agents=5)  # too many placements: auto uses the ball bound
    assert coin_game_welfare_upper_bound(large) == coin_game_welfare_upper_bound(large, method="balls")
    solution = solve_coin_game_welfare(coin_game_rules("parl_3x3"), store_values=False)
    assert solution.values is None
    with pytest.raises(ValueError, match="store_values"):
        solution.actions(0, np.zeros((1, 2), dtype=int), np.ones((1, 1), dtype=int), np.zeros(1, dtype=int))
    with pytest.raises(ValueError, match="principal"):
        solution.contracts(
            np.zeros((1, 2), dtype=int), np.zeros((1, 2), dtype=int), np.ones((1, 1), dtype=int), np.zeros(1, dtype=int)
        )
