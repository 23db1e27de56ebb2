"""Escape Room: every rule on hand-built states, the exact answers reproduced through the environment."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs import solvers
from contract_envs.games.escape_room import DOOR, LEVER, START
from tests.battery import run_battery
from tests.incentive_helpers import new_game

ER = "contract_envs/escape_room-v1"
SIZES = [(2, 1), (3, 2), (5, 2)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"incentives": "per_agent", "n_agents": 3, "min_at_lever": 2},
        {"incentives": "peer", "n_agents": 2, "min_at_lever": 1},
        {"incentives": "none", "n_agents": 3, "min_at_lever": 3, "horizon": 7},  # never terminates by chance
    ],
    ids=["per_agent", "peer", "none"],
)
def test_battery(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(ER, kwargs)


def step_game(num_envs, positions, actions, **kwargs):
    """One round from hand-built positions ``[B, N]`` with actions ``[B, N]``: (state, transition)."""
    game, state, rng = new_game(ER, num_envs, **kwargs)
    state.pos[:] = np.asarray(positions)
    tr = game.step(state, np.asarray(actions), None, rng)
    return state, tr


def test_door_opens_with_exactly_m_lever_actions_in_the_same_step():
    # env 0: 1 at lever (shut); env 1: 2 at lever (open); env 2: 3 at lever (open)
    state, tr = step_game(
        3,
        [[START] * 3] * 3,
        [[LEVER, DOOR, START], [LEVER, LEVER, DOOR], [LEVER, LEVER, LEVER]],
        n_agents=3,
        min_at_lever=2,
    )
    np.testing.assert_array_equal(state.door_open, [False, True, True])
    # shut door: the door-goer pays the move; open door: +10
    np.testing.assert_array_equal(tr.agent_own, [[-1, -1, 0], [-1, -1, 10], [-1, -1, -1]])
    # terminates only when the door is open and someone is at the door
    np.testing.assert_array_equal(tr.terminated, [False, True, False])
    # the outcome each agent is settled on is its action; positions follow the actions
    np.testing.assert_array_equal(tr.outcomes, [[LEVER, DOOR, START], [LEVER, LEVER, DOOR], [LEVER, LEVER, LEVER]])
    np.testing.assert_array_equal(state.pos, tr.outcomes)
    np.testing.assert_array_equal(state.last_action, tr.outcomes)


def test_staying_costs_nothing_and_moving_costs_one_from_every_position():
    positions = [[LEVER, LEVER], [START, START], [DOOR, DOOR]]
    _, tr = step_game(3, positions, [[LEVER, START], [START, DOOR], [DOOR, LEVER]], n_agents=2, min_at_lever=2)
    np.testing.assert_array_equal(tr.agent_own, [[0, -1], [0, -1], [0, -1]])


def test_door_reward_and_move_cost_arguments_are_used():
    _, tr = step_game(1, [[START, START]], [[LEVER, DOOR]], n_agents=2, min_at_lever=1, door_reward=4.0, move_cost=0.5)
    np.testing.assert_array_equal(tr.agent_own, [[-0.5, 4.0]])


def test_agent_already_at_the_door_earns_the_door_reward_when_it_opens():
    _, tr = step_game(1, [[START, DOOR]], [[LEVER, DOOR]], n_agents=2, min_at_lever=1)
    np.testing.assert_array_equal(tr.agent_own, [[-1, 10]])
    assert tr.terminated[0]


def test_positions_follow_actions_and_observations_are_one_hot_self_first():
    env = contract_envs.vector.make(ER, 1, seed=0, n_agents=3, min_at_lever=3)
    obs, infos = env.reset(seed=0)
    np.testing.assert_array_equal(obs["agent_1"][0], [0, 1, 0] * 3)
    np.testing.assert_array_equal(obs["principal_0"][0], [0, 1, 0] * 3 + [0] * 9)  # no action yet: zeros
    np.testing.assert_array_equal(infos["principal_0"]["outcomes"][0], [-1, -1, -1])
    obs, _, _, _, infos = env.step(
        {"principal_0": np.zeros((1, 3)), "agent_0": [LEVER], "agent_1": [DOOR], "agent_2": [START]}
    )
    # agent_1 sees itself (door), then agent_0 (lever), then agent_2 (start)
    np.testing.assert_array_equal(obs["agent_1"][0], [0, 0, 1, 1, 0, 0, 0, 1, 0])
    # designer: positions of all agents, then the joint action just played
    np.testing.assert_array_equal(obs["principal_0"][0], [1, 0, 0, 0, 0, 1, 0, 1, 0] * 2)
    np.testing.assert_array_equal(env.state.pos[0], [LEVER, DOOR, START])
    # realised outcomes (= actions) in the infos
    assert [int(infos[f"agent_{i}"]["outcome"][0]) for i in range(3)] == [LEVER, DOOR, START]
    np.testing.assert_array_equal(infos["principal_0"]["outcomes"][0], [LEVER, DOOR, START])
    assert infos["agent_0"]["went_to_lever"][0] == 1 and infos["agent_1"]["went_to_door"][0] == 1


def test_episode_is_truncated_after_horizon_rounds():
    stay = {"principal_0": np.zeros(3, np.float32), "agent_0": START, "agent_1": START}
    for kwargs, length in (({}, 5), ({"horizon": 3}, 3), ({"horizon": 8, "max_cycles": 2}, 2)):
        env = contract_envs.make("parallel", ER, n_agents=2, min_at_lever=1, **kwargs)
        env.reset(seed=0)
        for step in range(length):
            _, _, terms, truncs, _ = env.step(stay)
            assert not any(terms.values())
            assert all(truncs.values()) == (step == length - 1)
        assert env.agents == []
    vec = contract_envs.vector.make(ER, 2, seed=0, autoreset=False, n_agents=2, min_at_lever=1, horizon=2)
    batch = {"principal_0": np.zeros((2, 3)), "agent_0": [START] * 2, "agent_1": [START] * 2}
    assert not vec.step(batch)[3]["agent_0"].any()
    assert vec.step(batch)[3]["agent_0"].all()
    with pytest.raises(TypeError, match="max_cycles"):  # the episode length of a game is `horizon`
        contract_envs.vector.make(ER, 1, max_cycles=5)


@pytest.mark.parametrize(("n", "m"), SIZES)
def test_max_welfare_through_the_env_and_by_enumeration(n, m):
    """All 3^N one-step joint actions played at once in a batch: max welfare 10(N-M) - M."""
    profiles = np.array(list(itertools.product(range(3), repeat=n)))
    env = contract_envs.vector.make(ER, len(profiles), seed=0, n_agents=n, min_at_lever=m, incentives="none")
    _, rewards, *_ = env.step({f"agent_{i}": profiles[:, i] for i in range(n)})
    welfare = sum(rewards[f"agent_{i}"] for i in range(n))
    assert welfare.max() == solvers.escape_room_max_welfare(n, m) == 10 * (n - m) - m
    assert solvers.escape_room_max_welfare_enumerated(n, m)[0] == welfare.max()
    assert {(2, 1): 9, (3, 2): 8, (5, 2): 28}[(n, m)] == welfare.max()


def test_episode_welfare_cannot_beat_the_one_step_optimum_er21():
    """Every 3-step action sequence of ER(2, 1) (9^3 episodes in one batch): best episode welfare 9."""
    seqs = np.array(list(itertools.product(range(9), repeat=3)))  # joint action index per step
    env = contract_envs.vector.make(
        ER, len(seqs), seed=0, n_agents=2, min_at_lever=1, horizon=3, incentives="none", autoreset=True
    )
    total = np.zeros(len(seqs))
    alive = np.ones(len(seqs), dtype=bool)
    for t in range(3):
        _, rewards, terms, truncs, _ = env.step({"agent_0": seqs[:, t] // 3, "agent_1": seqs[:, t] % 3})
        total += alive * (rewards["agent_0"] + rewards["agent_1"])
        alive &= ~(terms["agent_0"] | truncs["agent_0"])
    assert total.max() == 9.0
    assert not alive.any()  # every episode ended by the horizon


def pure_equilibria_through_env(n, m, schedule):
    """Pure NE of the one-step game from the start, with payoffs read from the environment's rewards."""
    profiles = np.array(list(itertools.product(range(3), repeat=n)))
    env = contract_envs.vector.make(ER, len(profiles), seed=0, n_agents=n, min_at_lever=m)
    designer = np.tile(np.asarray(schedule, dtype=np.float64), (len(profiles), 1))
    _, rewards, *_ = env.step({"principal_0": designer, **{f"agent_{i}": profiles[:, i] for i in range(n)}})
    payoff = np.stack([rewards[f"agent_{i}"] for i in range(n)], axis=1)
    index = {tuple(p): k for k, p in enumerate(profiles)}
    stable = []
    for k, p in enumerate(profiles):
        ok = all(
            payoff[index[tuple(np.where(np.arange(n) == i, d, p))], i] <= payoff[k, i] + 1e-12
            for i in range(n)
            for d in range(3)
        )
        if ok:
            stable.append(tuple(p))
    return stable


@pytest.mark.parametrize(("n", "m"), SIZES)
def test_without_incentives_the_only_pure_equilibrium_is_all_stay(n, m):
    assert pure_equilibria_through_env(n, m, (0.0, 0.0, 0.0)) == [(START,) * n]
    np.testing.assert_array_equal(solvers.escape_room_pure_equilibria(n, m), [[START] * n])


@pytest.mark.parametrize(("n", "m"), SIZES)
def test_lever_incentive_sustains_the_optimum_iff_above_one(n, m):
    optimum = tuple(solvers.escape_room_optimal_profile(n, m))
    assert solvers.escape_room_min_lever_incentive() == 1.0
    for tau in (0.5, 0.99, 1.01, 1.5, 2.0):
        in_env = optimum in pure_equilibria_through_env(n, m, (tau, 0.0, 0.0))
        assert in_env == (tau > 1.0), tau
        assert solvers.escape_room_sustains_optimum(n, m, (tau, 0.0, 0.0)) == (tau > 1.0)
    # at exactly 1 the pivotal lever agent is indifferent: an equilibrium, but not a strict one
    assert solvers.escape_room_sustains_optimum(n, m, (1.0, 0.0, 0.0), strict=False)
    assert not solvers.escape_room_sustains_optimum(n, m, (1.0, 0.0, 0.0), strict=True)


@pytest.mark.parametrize(("n", "m", "limit", "discrete"), [(2, 1, 8, 7.9), (3, 2, 6, 5.8), (5, 2, 26, 25.8)])
def test_designer_net_return_of_the_scripted_optimum(n, m, limit, discrete):
    """Designer pays 1 + eps on the lever, agents play the optimum: net return -> 10(N-M) - 2M."""
    assert solvers.escape_room_best_designer_return(n, m) == limit == 10 * (n - m) - 2 * m
    assert solvers.escape_room_best_designer_return(n, m, values=[0.0, 1.1]) == pytest.approx(discrete)
    for eps in (0.1, 0.01, 0.001):
        env = contract_envs.make("parallel", ER, n_agents=n, min_at_lever=m)
        env.reset(seed=0)
        actions = {f"agent_{i}": int(a) for i, a in enumerate(solvers.escape_room_optimal_profile(n, m))}
        actions["principal_0"] = np.array([1.0 + eps, 0.0, 0.0], np.float32)
        _, rewards, terms, _, infos = env.step(actions)
        assert all(terms.values())
        tau = float(np.float32(1.0 + eps))
        assert infos["principal_0"]["welfare"] == 10 * (n - m) - m
        assert rewards["principal_0"] == pytest.approx(limit - m * (tau - 1.0), abs=1e-9)
        assert rewards["principal_0"] == pytest.approx(solvers.escape_room_designer_return(n, m, tau), abs=1e-9)
        assert infos["principal_0"]["payment"] == pytest.approx(m * tau)


def test_per_agent_schedule_pays_each_agent_its_own_row():
    env = contract_envs.make("parallel", ER, n_agents=2, min_at_lever=1, incentives="per_agent")
    env.reset(seed=0)
    schedule = np.array([[1.5, 0.0, 0.0], [0.0, 0.0, 0.25]], np.float32)
    _, rewards, _, _, infos = env.step({"principal_0": schedule, "agent_0": LEVER, "agent_1": DOOR})
    assert rewards["agent_0"] == pytest.approx(-1 + 1.5)
    assert rewards["agent_1"] == pytest.approx(10 + 0.25)
    assert infos["principal_0"]["payment"] == pytest.approx(1.75)
    with pytest.raises(ValueError, match=r"principal_0: contract has shape \(3,\); expected \(2, 3\)"):
        env.reset(seed=0)
        env.step({"principal_0": np.zeros(3), "agent_0": 0, "agent_1": 0})


def test_peer_gifts_are_ledger_transfers_and_observed_as_cumulative_given():
    env = contract_envs.make("parallel", ER, n_agents=2, min_at_lever=1, incentives="peer")
    obs, _ = env.reset(seed=0)
    assert env.possible_agents == ["agent_0", "agent_1"]
    assert obs["agent_0"].shape == (7,) and obs["agent_0"][-1] == 0.0
    assert env.observation_space("agent_0").high[-1] == 2.0 * 5  # incentive_cap * horizon
    # agent_1 (going to the door) pays agent_0 1.5 if agent_0 pulls the lever
    pay_lever = np.array([[1.5, 0.0, 0.0]], np.float32)
    nothing = np.zeros((1, 3), np.float32)
    actions = {
        "agent_0": {"action": LEVER, "incentives": nothing},
        "agent_1": {"action": DOOR, "incentives": pay_lever},
    }
    obs, rewards, terms, _, infos = env.step(actions)
    assert rewards["agent_0"] == pytest.approx(-1 + 1.5)
    assert rewards["agent_1"] == pytest.approx(10 - 1.5)
    assert infos["agent_0"]["transfer_in"] == 1.5 and infos["agent_1"]["transfer_out"] == 1.5
    assert infos["agent_0"]["own_reward"] + infos["agent_1"]["own_reward"] == 9.0  # collective extrinsic optimum
    assert obs["agent_1"][-1] == pytest.approx(1.5) and obs["agent_0"][-1] == 0.0
    assert infos["agent_0"]["outcome"] == LEVER and infos["agent_1"]["outcome"] == DOOR
    assert all(terms.values())


def test_peer_gifts_accumulate_and_pay_only_the_realised_action():
    env = contract_envs.vector.make(ER, 1, seed=0, n_agents=3, min_at_lever=3, incentives="peer")
    gifts = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 2.0]]])  # to the 1st other for start, to the 2nd for door
    nothing = np.zeros((1, 2, 3))
    actions = {
        "agent_0": {"action": [START], "incentives": gifts},
        "agent_1": {"action": [START], "incentives": nothing},
        "agent_2": {"action": [LEVER], "incentives": nothing},
    }
    for step in range(1, 3):
        obs, rewards, *_ = env.step(actions)
        # agent_1 stayed (paid 1 per step); agent_2 went to the lever (door schedule not triggered)
        np.testing.assert_allclose(obs["agent_0"][0, -2:], [1.0 * step, 0.0])
        np.testing.assert_allclose(env.state.given[0, 0], [0.0, 1.0 * step, 0.0])
        np.testing.assert_allclose(rewards["agent_1"], [1.0])
        np.testing.assert_allclose(rewards["agent_0"], [-1.0])
    # the state (global) carries every payer's cumulative gifts
    np.testing.assert_allclose(env.global_state()[0, -9:], env.state.given[0].reshape(-1))


def test_peer_action_errors_are_clear():
    env = contract_envs.make("parallel", ER, n_agents=2, min_at_lever=1, incentives="peer")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"agent_0: expected a dict \{'action'"):
        env.step({"agent_0": 0, "agent_1": {"action": 0, "incentives": np.zeros((1, 3))}})
    message = r"agent_1: payment to agent_0 for outcome 2 is 5.0; allowed range is \[0, 2.0\]"
    with pytest.raises(ValueError, match=message):
        env.step(
            {
                "agent_0": {"action": 0, "incentives": np.zeros((1, 3))},
                "agent_1": {"action": 0, "incentives": np.array([[0.0, 0.0, 5.0]])},
            }
        )


@pytest.mark.parametrize(("n", "m"), [(2, 1), (3, 2)])
@pytest.mark.parametrize("gift", [0.5, 0.99, 1.01, 1.5])
def test_peer_optimum_is_an_equilibrium_iff_the_lever_gift_exceeds_one(n, m, gift):
    """LIO's answer through the env: door agents pay each lever agent `gift / (N - M)` for pulling the lever;
    with gift strategies fixed, the optimum is a pure equilibrium of the moves iff the net gift exceeds 1."""
    profiles = np.array(list(itertools.product(range(3), repeat=n)))
    env = contract_envs.vector.make(ER, len(profiles), seed=0, n_agents=n, min_at_lever=m, incentives="peer")
    actions = {}
    for i in range(n):
        offers = np.zeros((len(profiles), n - 1, 3))
        if i >= m:  # a door agent: rows are the other agents in id order; lever agents are 0..m-1
            offers[:, :m, LEVER] = gift / (n - m)
        actions[f"agent_{i}"] = {"action": profiles[:, i], "incentives": offers}
    _, rewards, _, _, infos = env.step(actions)
    payoff = np.stack([rewards[f"agent_{i}"] for i in range(n)], axis=1)
    index = {tuple(p): k for k, p in enumerate(profiles)}
    optimum = tuple(solvers.escape_room_optimal_profile(n, m))
    k = index[optimum]
    assert sum(infos[f"agent_{i}"]["own_reward"][k] for i in range(n)) == {2: 9, 3: 8}[n]  # extrinsic optimum
    stable = all(
        payoff[index[tuple(np.where(np.arange(n) == i, d, optimum))], i] < payoff[k, i]
        for i in range(n)
        for d in range(3)
        if d != optimum[i]
    )
    assert stable == (gift > 1.0)


def test_role_views_run_escape_room_with_a_fixed_designer():
    from contract_envs.views import AgentsOnlyParallelEnv, PrincipalGymEnv

    def pay_lever(obs):
        return np.array([1.5, 0.0, 0.0], np.float32)

    agents_view = AgentsOnlyParallelEnv(ER, principal_policy=pay_lever, n_agents=2, min_at_lever=1)
    agents_view.reset(seed=0)
    _, rewards, terms, _, _ = agents_view.step({"agent_0": LEVER, "agent_1": DOOR})
    assert rewards == {"agent_0": 0.5, "agent_1": 10.0} and all(terms.values())
    optimum = {"agent_0": LEVER, "agent_1": DOOR}
    designer_view = PrincipalGymEnv(ER, agent_policy=lambda agent, obs: optimum[agent], n_agents=2, min_at_lever=1)
    designer_view.reset(seed=0)
    _, reward, terminated, _, info = designer_view.step(np.array([1.01, 0.0, 0.0], np.float32))
    assert terminated and info["welfare"] == 9.0
    assert reward == pytest.approx(9.0 - float(np.float32(1.01)))


def test_aec_designer_moves_first_and_agents_never_see_its_schedule():
    """Native AEC: designer, then each agent; the schedule takes effect only when the last agent has moved."""
    observed = []
    for lever_pay in (0.0, 2.0):
        env = contract_envs.make("aec", ER, n_agents=2, min_at_lever=1)
        env.reset(seed=0)
        assert env.agent_selection == "principal_0"
        env.step(np.array([lever_pay, 0.0, 0.0], np.float32))
        assert env.agent_selection == "agent_0"
        seen = [env.observe("agent_0").copy(), env.observe("agent_1").copy()]
        env.step(LEVER)
        assert env.agent_selection == "agent_1" and env.rewards["agent_0"] == 0.0  # nothing settled yet
        seen.append(env.observe("agent_1").copy())
        env.step(DOOR)
        assert env.rewards["agent_0"] == pytest.approx(-1.0 + lever_pay)
        assert env.infos["agent_0"]["outcome"] == LEVER and env.infos["principal_0"]["payment"] == lever_pay
        observed.append(seen)
    for a, b in zip(*observed, strict=True):
        np.testing.assert_array_equal(a, b)  # the agents' observations do not depend on the schedule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agents": 2.7}, r"escape_room: n_agents must be an integer in \[1, inf\), got 2.7"),
        ({"min_at_lever": 2.5}, "min_at_lever must be an integer"),
        ({"n_agents": 3, "min_at_lever": 4}, r"min_at_lever must be an integer in \[1, 3\], got 4"),
        ({"horizon": 0}, r"horizon \(rounds per episode\) must be an integer in \[1, inf\)"),
        ({"horizon": 2.5}, "horizon"),
        ({"door_reward": float("nan")}, "door_reward must be a finite real number"),
        ({"door_reward": float("-inf")}, "door_reward must be a finite real number"),
        ({"move_cost": float("nan")}, r"move_cost must be a finite real number in \[0.0, inf\)"),
        ({"move_cost": -1.0}, r"move_cost must be a finite real number in \[0.0, inf\)"),
        ({"incentive_cap": float("inf")}, "incentive_cap must be a finite real number"),
        ({"incentive_cost": float("nan")}, "incentive_cost must be a finite real number"),
        ({"incentives": "bribes"}, "incentives must be one of"),
    ],
)
def test_constructor_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        contract_envs.vector.make(ER, 1, **kwargs)
