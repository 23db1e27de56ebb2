"""Gather-Trade-Build: the economy's rules, its accounting and its observations, on hand-made situations.

The step-by-step agreement with the AI-Economist itself is ``benchmarks/gtb_crosscheck.py`` (run here
too when the reference's side environment exists)."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import contract_envs.vector
from tests import battery

ENV_ID = "contract_envs/gather_trade_build-v0"
NOOP, BUILD = 0, 1
P = 11  # price levels 0..10
BUY_STONE, SELL_STONE, BUY_WOOD, SELL_WOOD = 2, 2 + P, 2 + 2 * P, 2 + 3 * P
LEFT, RIGHT, UP, DOWN = 46, 47, 48, 49
US_RATES = np.array([0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37])


def make(**kwargs):
    """One small environment; no regrowth unless asked, so hand-made maps stay as made."""
    kwargs.setdefault("preset", "small")
    kwargs.setdefault("resource_regen_prob", 0.0)
    env = contract_envs.vector.make(ENV_ID, 1, seed=0, autoreset=False, **kwargs)
    return env, env.state


def act(env, moves, rates=None):
    """One step with agent actions ``moves`` (list, one per agent) and the planner's ``rates``."""
    actions = {f"agent_{i}": np.array([a]) for i, a in enumerate(moves)}
    actions["principal_0"] = np.zeros((1, 7)) if rates is None else np.asarray(rates, dtype=float)[None]
    return env.step(actions)


def empty_world(env, state, positions):
    """No resources on the map, agents at ``positions``, empty inventories (coin 10)."""
    state.resource[:] = 0
    state.pos[0] = positions
    state.inventory[0] = [[10.0, 0.0, 0.0]] * len(positions)
    state.clear_cache()


def test_battery_with_random_skills_and_starts():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        battery.run_battery(ENV_ID, {"preset": "small", "fixed_four_skill_and_loc": False})


def test_fixed_skills_are_the_ai_economists_and_ranks_sit_in_their_corners():
    env, s = make(preset="paper")
    # the AI-Economist's own numbers for 4 agents, payment 10, multiplier 3 (its Monte Carlo estimate)
    reference = [11.33164062, 13.26711234, 16.47237295, 22.2496143]
    np.testing.assert_allclose(np.sort(s.build_payment[0]), reference, atol=1e-8)
    corner_of_rank = {0: (0, 14), 1: (14, 0), 2: (0, 0), 3: (14, 14)}
    ranks = np.argsort(np.argsort(s.build_payment[0]))
    for i in range(4):
        assert tuple(s.pos[0, i]) == corner_of_rank[ranks[i]]


def test_build_needs_wood_and_stone_on_empty_land_and_pays_the_builders_skill():
    env, s = make()
    empty_world(env, s, [(2, 1), (0, 0), (6, 3), (3, 6)])  # agent_1 on a wood source cell
    s.inventory[0, :, 1:] = [[1, 1], [1, 1], [1, 0], [0, 0]]
    payment = s.build_payment[0].copy()
    _, rewards, _, _, infos = act(env, [BUILD, BUILD, BUILD, NOOP])
    assert infos["agent_0"]["built"][0] == 1 and s.house_owner[0, 2, 1] == 0
    assert s.inventory[0, 0].tolist() == [10.0 + payment[0], 0.0, 0.0]
    assert s.labour[0, 0] == 10.0
    assert infos["agent_1"]["built"][0] == 0 and s.inventory[0, 1, 1:].tolist() == [1, 1]  # a source cell
    assert infos["agent_2"]["built"][0] == 0 and s.labour[0, 2] == 0.0  # no wood: nothing happens
    # the builder's utility rose by the isoelastic value of the payment minus 10 labour x 0.21
    u = lambda c, lab: (c**0.77 - 1) / 0.77 - 0.21 * lab  # noqa: E731
    assert rewards["agent_0"][0] == pytest.approx(u(10 + payment[0], 10) - u(10, 0), abs=1e-12)
    # a house blocks everybody but its owner
    s.pos[0, 0] = (2, 2)
    s.pos[0, 2] = (2, 0)
    s.clear_cache()
    obs = act(env, [LEFT, NOOP, RIGHT, NOOP])[0]
    assert tuple(s.pos[0, 0]) == (2, 1) and tuple(s.pos[0, 2]) == (2, 0)
    assert obs["agent_2"]["action_mask"][0, RIGHT] == 0 and obs["agent_0"]["action_mask"][0, BUILD] == 0


def test_moves_are_blocked_by_water_edges_and_agents_and_gathering_collects_every_unit_underfoot():
    env, s = make()
    empty_world(env, s, [(2, 2), (0, 0), (4, 2), (1, 2)])
    s.resource[0, 1, 0, 0] = 1  # wood under agent_1
    s.resource[0, 0, 2, 1] = 1  # stone left of agent_0
    s.clear_cache()
    obs = env.observe()
    mask0 = obs["agent_0"]["action_mask"][0]
    assert mask0[RIGHT] == 0 and mask0[DOWN] == 0  # water at (2, 3) and (3, 2)
    assert mask0[UP] == 0 and mask0[LEFT] == 1  # agent_3 stands on (1, 2)
    assert obs["agent_1"]["action_mask"][0, UP] == 0 and obs["agent_1"]["action_mask"][0, LEFT] == 0  # the edge
    act(env, [LEFT, NOOP, RIGHT, NOOP])
    assert tuple(s.pos[0, 0]) == (2, 1) and s.inventory[0, 0, 1] == 1 and s.labour[0, 0] == 2.0  # move + collect
    assert s.inventory[0, 1, 2] == 1 and s.labour[0, 1] == 1.0  # collected without moving
    assert tuple(s.pos[0, 2]) == (4, 2) and s.labour[0, 2] == 0.0  # water at (4, 3): stayed, no labour
    assert s.resource[0, 0, 2, 1] == 0 and s.resource[0, 1, 0, 0] == 0


def test_resources_regrow_only_on_their_source_cells():
    env, s = make(resource_regen_prob=1.0)
    s.resource[:] = 0
    s.clear_cache()
    act(env, [NOOP] * 4)
    g = env.game
    stone, wood = s.resource[0, 0].astype(bool), s.resource[0, 1].astype(bool)
    under = np.zeros_like(stone)
    under[s.pos[0, :, 0], s.pos[0, :, 1]] = True
    assert np.array_equal(stone | under & g.sources[0], g.sources[0])
    assert np.array_equal(wood | under & g.sources[1], g.sources[1])
    assert not (stone & ~g.sources[0]).any() and not (wood & ~g.sources[1]).any()


def trade_world(**kwargs):
    env, s = make(**kwargs)
    empty_world(env, s, [(0, 3), (1, 3), (5, 3), (6, 3)])
    s.inventory[0, :, 2] = 2  # two units of wood each
    s.clear_cache()
    return env, s


def test_a_new_bid_trades_at_the_standing_ask_and_coin_and_wood_change_hands():
    env, s = trade_world()
    act(env, [SELL_WOOD + 3, NOOP, NOOP, NOOP])  # agent_0 asks 3
    assert s.escrow[0, 0].tolist() == [0, 0, 1] and s.labour[0, 0] == 0.25
    _, _, _, _, infos = act(env, [NOOP, BUY_WOOD + 5, NOOP, NOOP])  # agent_1 bids 5: trades at the ask, 3
    assert infos["principal_0"]["trades"][0] == 1
    assert s.inventory[0, 0].tolist() == [13.0, 0, 1] and s.escrow[0, 0].tolist() == [0, 0, 0]
    assert s.inventory[0, 1].tolist() == [7.0, 0, 3] and s.escrow[0, 1].tolist() == [0, 0, 0]


def test_a_new_ask_trades_at_the_standing_bid():
    env, s = trade_world()
    act(env, [BUY_WOOD + 6, NOOP, NOOP, NOOP])
    assert s.inventory[0, 0, 0] == 4.0 and s.escrow[0, 0, 0] == 6.0  # the bid's coin is set aside
    act(env, [NOOP, SELL_WOOD + 2, NOOP, NOOP])  # the bid came first: its price, 6
    assert s.inventory[0, 0].tolist() == [4.0, 0, 3] and s.inventory[0, 1].tolist() == [16.0, 0, 1]


def test_a_bid_and_an_ask_placed_in_the_same_step_trade_at_the_ask():
    env, s = trade_world()
    act(env, [SELL_WOOD + 3, BUY_WOOD + 8, NOOP, NOOP])
    assert s.inventory[0, 0].tolist() == [13.0, 0, 1] and s.inventory[0, 1].tolist() == [7.0, 0, 3]


def test_the_best_ask_of_another_agent_wins_and_nobody_trades_with_itself():
    env, s = trade_world()
    act(env, [SELL_WOOD + 4, SELL_WOOD + 2, NOOP, NOOP])
    act(env, [NOOP, NOOP, SELL_WOOD + 2, NOOP])  # same price as agent_1's, but later
    _, _, _, _, infos = act(env, [NOOP, BUY_WOOD + 5, NOOP, BUY_WOOD + 3])
    # agent_1's bid 5 and agent_3's bid 3 arrive together; agent_1 (higher) is served first by the best ask
    # that is not its own: agent_2's 2 (agent_1's own 2 is older but excluded); then agent_3 takes the best
    # remaining ask, agent_1's 2; agent_0's 4 stays open
    assert infos["principal_0"]["trades"][0] == 2
    assert s.inventory[0, 2].tolist() == [12.0, 0, 1]  # sold at 2
    assert s.inventory[0, 1].tolist() == [10.0 - 2 + 2, 0, 2]  # bought at 2, sold at 2
    assert s.inventory[0, 3].tolist() == [8.0, 0, 3]
    assert s.escrow[0, 0].tolist() == [0, 0, 1]  # agent_0's ask at 4 is still open


def test_orders_expire_after_their_duration_and_return_their_escrow():
    env, s = trade_world(order_duration=3)
    act(env, [BUY_STONE + 7, SELL_WOOD + 9, NOOP, NOOP])
    for _ in range(2):
        act(env, [NOOP] * 4)
    assert s.escrow[0, 0, 0] == 7.0 and s.escrow[0, 1, 2] == 1.0  # age 3: still open
    act(env, [NOOP] * 4)  # age 4 > 3: expired
    assert s.escrow[0].sum() == 0.0
    assert s.inventory[0, 0, 0] == 10.0 and s.inventory[0, 1, 2] == 2.0


def test_the_order_limit_and_the_coin_in_hand_bound_new_orders():
    env, s = trade_world(max_num_orders=2)
    act(env, [SELL_WOOD + 9, NOOP, NOOP, NOOP])
    obs = act(env, [SELL_WOOD + 9, BUY_STONE + 10, NOOP, NOOP])[0]
    mask = obs["agent_0"]["action_mask"][0]
    assert mask[SELL_WOOD : SELL_WOOD + P].sum() == 0 and mask[BUY_WOOD : BUY_WOOD + P].sum() == 0  # 2 open
    assert mask[BUY_STONE : BUY_STONE + P].sum() == P  # the limit is per resource
    assert obs["agent_1"]["action_mask"][0, BUY_STONE : BUY_STONE + P].tolist() == [1] * 1 + [0] * 10  # coin 0 left
    act(env, [SELL_WOOD + 9, BUY_STONE + 5, NOOP, NOOP])  # both masked: nothing happens
    assert s.escrow[0, 0, 2] == 2.0 and s.escrow[0, 1].tolist() == [10.0, 0, 0] and s.labour[0, 0] == 0.5


def run_to_period_end(env, s, coin, last_coin, escrow_coin=None, rates=US_RATES):
    """Hand-set coins, then play no-ops to the end of the first tax period with ``rates``."""
    s.inventory[0, :, 0] = coin
    s.last_coin[0] = last_coin
    if escrow_coin is not None:
        s.escrow[0, :, 0] = escrow_coin
    s.clear_cache()
    infos = None
    for _ in range(env.game.period):
        _, _, _, _, infos = act(env, [NOOP] * 4, rates)
    return infos


def test_taxes_follow_the_scaled_us_brackets_are_capped_by_coin_in_hand_and_are_redistributed():
    env, s = make()
    empty_world(env, s, [(0, 3), (1, 3), (5, 3), (6, 3)])
    coin = [60.0, 210.0, 10.0, 5.0]
    escrow = [0.0, 0.0, 0.0, 40.0]
    infos = run_to_period_end(env, s, coin, last_coin=[10.0, 10.0, 10.0, 0.0], escrow_coin=escrow)
    # by hand: income 50 -> .1*9.7 + .12*29.775 + .22*10.525; income 200 -> up to 160.725 at .24, then .32
    due_50 = 0.97 + 0.12 * 29.775 + 0.22 * 10.525
    due_200 = 0.97 + 0.12 * 29.775 + 0.22 * 44.725 + 0.24 * 76.525 + 0.32 * 39.275
    due_45 = 0.97 + 0.12 * 29.775 + 0.22 * 5.525  # income 45, but only 5 coin in hand (40 set aside in bids)
    paid = [infos[f"agent_{i}"]["tax_paid"][0] for i in range(4)]
    np.testing.assert_allclose(paid, [due_50, due_200, 0.0, 5.0], atol=1e-12)
    assert due_45 > 5.0
    lump = sum(paid) / 4
    np.testing.assert_allclose(s.inventory[0, :, 0], np.array(coin) - paid + lump, atol=1e-12)
    planner = infos["principal_0"]
    assert planner["transfer_in"][0] == pytest.approx(sum(paid)) == planner["tax_revenue"][0]
    assert planner["transfer_out"][0] == pytest.approx(sum(paid))
    assert [infos[f"agent_{i}"]["transfer_in"][0] for i in range(4)] == [lump] * 4
    # the next period's income is measured from the coin after redistribution
    np.testing.assert_allclose(s.last_coin[0], s.inventory[0, :, 0] + s.escrow[0, :, 0], atol=1e-12)
    np.testing.assert_allclose(s.last_marginal_rate[0], [0.22, 0.32, 0.10, 0.22])


def test_rates_count_at_a_periods_first_step_only():
    env, s = make()
    act(env, [NOOP] * 4, rates=[0.5] * 7)
    for _ in range(env.game.period - 1):
        act(env, [NOOP] * 4, rates=[0.9] * 7)
    assert s.rates[0].tolist() == [0.5] * 7
    act(env, [NOOP] * 4, rates=[0.9] * 7)
    assert s.rates[0].tolist() == [0.9] * 7


def test_coin_and_resources_are_conserved_by_trade_and_taxes_over_random_play():
    env = contract_envs.vector.make(ENV_ID, 64, seed=3, preset="small", resource_regen_prob=0.0)
    g, s = env.game, env.state
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=3)
    trades = builds = collected = 0
    for _ in range(g.horizon - 1):
        coin = (s.inventory[..., 0] + s.escrow[..., 0]).sum(1)
        units = (s.inventory[..., 1:] + s.escrow[..., 1:]).sum(1)  # [B, 2]
        on_map = s.resource.sum(axis=(2, 3))
        actions = {}
        for a in env.agents:  # random actions among the allowed ones, building whenever possible
            score = obs[a]["action_mask"] * rng.random((64, g.n_actions))
            score[:, BUILD] *= 100
            actions[a] = score.argmax(1)
        actions["principal_0"] = rng.random((64, 7))
        payments = s.build_payment.copy()
        obs, _, _, _, infos = env.step(actions)
        built = np.stack([infos[a]["built"] for a in env.agents], 1)
        new_coin = (s.inventory[..., 0] + s.escrow[..., 0]).sum(1)
        np.testing.assert_allclose(new_coin - coin, (built * payments).sum(1), atol=1e-9)
        gathered = on_map - s.resource.sum(axis=(2, 3))
        new_units = (s.inventory[..., 1:] + s.escrow[..., 1:]).sum(1)
        np.testing.assert_array_equal(new_units - units, gathered - built.sum(1)[:, None])
        # escrow is exactly what the open orders set aside
        bids = (s.order_kind == 1) * s.order_price
        np.testing.assert_array_equal(s.escrow[..., 0], bids.sum(axis=(1, 3)))
        np.testing.assert_array_equal(s.escrow[..., 1:], (s.order_kind == 2).sum(3).transpose(0, 2, 1))
        planner = infos["principal_0"]
        np.testing.assert_allclose(planner["transfer_in"], planner["transfer_out"], atol=1e-9)  # budget balance
        trades += planner["trades"].sum()
        builds += built.sum()
        collected += (planner["tax_revenue"] > 0).sum()
    assert trades > 50 and builds > 10 and collected > 20  # the identities were exercised


def test_rewards_sum_to_the_change_of_utility_and_of_the_planners_objective():
    env = contract_envs.vector.make(ENV_ID, 8, seed=1, preset="small", autoreset=False)
    g, s = env.game, env.state
    rng = np.random.default_rng(1)
    u0, w0 = s.utility.copy(), s.planner_metric.copy()
    np.testing.assert_allclose(u0, (10**0.77 - 1) / 0.77)
    total = np.zeros((8, 5))
    obs = env.observe()
    for _ in range(g.horizon):
        actions = {a: (obs[a]["action_mask"] * rng.random((8, g.n_actions))).argmax(1) for a in env.agents}
        actions["principal_0"] = np.full((8, 7), 0.3)
        obs, rewards, _, truncated, infos = env.step(actions)
        total += np.stack([rewards[p] for p in env.possible_agents], 1)
    assert truncated["agent_0"].all()
    coin = s.inventory[..., 0] + s.escrow[..., 0]
    utility = (coin**0.77 - 1) / 0.77 - 0.21 * s.labour
    np.testing.assert_allclose(total[:, 1:], utility - u0, atol=1e-9)
    n = 4
    equality = 1 - np.abs(coin[:, :, None] - coin[:, None, :]).sum((1, 2)) / (2 * n * coin.sum(1)) * n / (n - 1)
    np.testing.assert_allclose(total[:, 0], equality * coin.mean(1) - w0, atol=1e-9)
    np.testing.assert_allclose(infos["principal_0"]["equality_times_productivity"], equality * coin.sum(1))


def test_egocentric_maps_centre_the_observer_and_mark_its_houses():
    env, s = make()
    empty_world(env, s, [(0, 0), (0, 1), (6, 6), (3, 0)])
    s.house_owner[0, 1, 1] = 0
    s.house_owner[0, 1, 2] = 1
    s.clear_cache()
    maps = env.observe()["agent_0"]["observation"]["map"][0]  # [9, 11, 11], centre (5, 5)
    v = env.game.view
    assert maps.shape == (9, 2 * v + 1, 2 * v + 1)
    assert maps[8, v, v] == 1 and maps[8, v, v + 1] == 3  # itself, agent_1 to its right
    assert maps[7, v + 1, v + 1] == 1 and maps[7, v + 1, v + 2] == 3  # its own house, agent_1's house
    assert maps[2, v + 1, v + 1] == 1 and maps[2, v + 1, v + 2] == 1
    assert maps[6, :v, :].sum() == 0 and maps[6, v : v + 7, v : v + 7].all()  # in-bounds channel: the 7x7 map
    assert maps[3, v + 3, v + 3] == 1  # water at (3, 3)
    planner = env.observe()["principal_0"]["map"][0]
    assert planner[7, 0, 0] == 2 and planner[7, 0, 1] == 3 and planner[6, 1, 1] == 2


def test_observation_layout_names_every_feature():
    env, s = make()
    g = env.game
    obs = env.observe()
    assert len(g.agent_feature_names()) == obs["agent_0"]["observation"]["flat"].shape[1] == g.agent_flat_size
    assert len(g.planner_feature_names()) == obs["principal_0"]["flat"].shape[1] == g.planner_flat_size
    names = g.agent_feature_names()
    flat = obs["agent_2"]["observation"]["flat"][0]
    assert flat[names.index("coin")] == pytest.approx(0.1) and flat[names.index("is_first_day")] == 1


REFERENCE_PYTHON = "/work/aie-venv/bin/python"


@pytest.mark.skipif(not os.path.exists(REFERENCE_PYTHON), reason="the AI-Economist's side environment is absent")
def test_step_by_step_agreement_with_the_ai_economist():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    result = subprocess.run(
        [sys.executable, "benchmarks/gtb_crosscheck.py", "--scenarios", "paper_trade_heavy"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "AGREEMENT: every compared value agrees" in result.stdout


# --------------------------------------------------------------------------- fixed planners
def test_fixed_planners_set_their_rates_through_the_views_and_the_batched_api():
    from contract_envs.adapters.views import AgentsOnlyParallelEnv
    from contract_envs.games.gather_trade_build import free_market_planner, us_federal_planner

    view = AgentsOnlyParallelEnv(ENV_ID, principal_policy=us_federal_planner(), preset="small")
    view.reset(seed=0)
    view.step({a: 0 for a in view.agents})
    np.testing.assert_allclose(view.machine.state.rates[0], US_RATES, atol=1e-7)
    env = contract_envs.vector.make(ENV_ID, 3, seed=0, preset="small")
    planner = free_market_planner()
    obs = env.observe()
    rates = planner(obs["principal_0"])
    assert rates.shape == (3, 7) and not rates.any()


def test_saez_planner_explores_until_its_buffer_is_full_then_follows_the_formula():
    from contract_envs.games.gather_trade_build import SaezPlanner

    env = contract_envs.vector.make(ENV_ID, 4, seed=0, preset="small")
    g = env.game
    first, second = SaezPlanner(g, buffer_size=12, seed=0), SaezPlanner(g, buffer_size=12, seed=1)
    rng = np.random.default_rng(0)
    obs = env.observe()
    schedules = []
    for t in range(3 * g.horizon):
        rates = first(obs["principal_0"])
        other = second(obs["principal_0"])  # the same observations, another seed for the random phase
        assert rates.shape == (4, 7) and (rates == rates[0]).all()  # one schedule for the batch
        if t % g.period == 0:
            schedules.append((rates[0].copy(), other[0].copy()))
        actions = {a: (obs[a]["action_mask"] * rng.random((4, g.n_actions))).argmax(1) for a in env.agents}
        obs, *_ = env.step({**actions, "principal_0": rates})
    # random rates before any sample; 16 samples per period: the formula from the second period on
    assert not np.allclose(*schedules[0])
    assert all(np.array_equal(a, b) for a, b in schedules[1:]) and len(schedules) == 9
    assert len({tuple(a) for a, _ in schedules[1:]}) > 1  # the schedule follows the incomes


def test_saez_rates_are_zero_with_equal_welfare_weights_when_every_income_is_in_the_top_bracket():
    from contract_envs.games.gather_trade_build import SaezPlanner

    planner = SaezPlanner(contract_envs.registry.spec(ENV_ID).make_game(), buffer_size=10, pareto_weight_type="uniform")
    planner.samples = [(600.0 + k, 0.37) for k in range(10)]
    np.testing.assert_allclose(planner.new_rates(), 0.0, atol=1e-9)


def test_saez_elasticity_estimate_recovers_a_known_elasticity():
    from contract_envs.games.gather_trade_build import SaezPlanner

    planner = SaezPlanner(contract_envs.registry.spec(ENV_ID).make_game(), buffer_size=10)
    tau = np.random.default_rng(0).uniform(0.0, 0.9, 200)
    z = 30.0 * (1.0 - tau) ** 0.8  # income responds to the net-of-tax rate with elasticity 0.8
    elasticity, log_z0 = planner._estimate_elasticity(z, tau)
    assert elasticity == pytest.approx(0.02 * 0.8 + 0.98 * 0.5)  # a running average from 0.5
    assert log_z0 == pytest.approx(np.log(30.0))


def test_moving_everybody_at_once_where_order_cannot_matter_equals_moving_one_by_one():
    """The batched shortcut of the gather step (environments where no agent heads for another's cell or a cell
    another also heads for) against the agent-by-agent rule on crowded random states."""
    env = contract_envs.vector.make(ENV_ID, 256, seed=4, preset="small", n_agents=8, fixed_four_skill_and_loc=False)
    g = env.game
    rng = np.random.default_rng(4)
    for _ in range(5):
        env.step({**{a: rng.integers(0, g.n_actions, 256) for a in env.agents}, "principal_0": np.zeros((256, 7))})
        s = env.state
        actions = rng.integers(g.action_move - 1, g.n_actions, (256, g.n_agents))  # mostly moves, some builds
        order = np.argsort(rng.random((256, g.n_agents)), axis=1)
        fast, slow = s.copy(), s.copy()
        g._gather(fast, actions, order)
        move = g._move[actions]
        target = slow.pos + np.asarray([(0, -1), (0, 1), (-1, 0), (1, 0), (0, 0)])[move]
        tr, tc = target[..., 0], target[..., 1]
        inside = (tr >= 0) & (tr < g.height) & (tc >= 0) & (tc < g.width)
        trc, tcc = np.clip(tr, 0, g.height - 1), np.clip(tc, 0, g.width - 1)
        house = slow.house_owner[np.arange(256)[:, None], trc, tcc]
        want = (move >= 0) & inside & ~g.water[trc, tcc] & ((house < 0) | (house == np.arange(g.n_agents)))
        g._gather_in_order(slow, np.arange(256), move, target, want, order)
        for name in ("pos", "labour", "inventory", "resource"):
            np.testing.assert_array_equal(getattr(fast, name), getattr(slow, name), err_msg=name)
