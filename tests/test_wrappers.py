"""contract_envs.wrappers: flatteners, flatten wrappers and the turn-based view, over every game."""

import numpy as np
import pytest
from gymnasium import spaces

import contract_envs
from contract_envs.registry import env_ids
from contract_envs.wrappers import (
    ActionFlattener,
    FlattenGymEnv,
    FlattenParallelEnv,
    ObservationFlattener,
    TurnBasedEnv,
    group_map,
)

SHORT = {"contract_envs/contract_bandit-v1": {"horizon": 6}, "contract_envs/cleanup-v1": {"horizon": 6}}


def test_contract_action_flattens_to_1d_and_back_by_reshape():
    box = spaces.Box(0.0, 10.0, (2, 4), np.float32)
    f = ActionFlattener(box)
    assert f.space.shape == (8,)
    contract = np.arange(8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_array_equal(f.unflatten(contract.reshape(-1)), contract)
    with pytest.raises(ValueError, match=r"flat action of shape \(8,\) expected"):
        f.unflatten(np.zeros(7))
    clipped = ActionFlattener(box, clip=True).unflatten(np.full(8, 12.0))
    np.testing.assert_array_equal(clipped, np.full((2, 4), 10.0))
    assert ActionFlattener(spaces.Discrete(3)).unflatten(2) == 2


def test_mixed_dict_move_becomes_scores_and_continuous_values():
    move = spaces.Dict(
        {
            "action": spaces.Discrete(3),
            "recommendations": spaces.MultiDiscrete([2, 4]),
            "transfers": spaces.Box(0.0, 3.0, (2,), np.float32),
        }
    )
    f = ActionFlattener(move)
    assert f.space.shape == (3 + 6 + 2,)
    flat = np.array([0.1, 0.9, 0.2, 0.7, 0.3, 0.0, 0.1, 0.9, 0.2, 1.5, 2.5], dtype=np.float32)
    out = f.unflatten(flat)
    assert out["action"] == 1
    np.testing.assert_array_equal(out["recommendations"], [0, 2])
    np.testing.assert_allclose(out["transfers"], [1.5, 2.5])


def test_flat_observation_one_hots_discrete_parts_and_keeps_values():
    space = spaces.Dict({"state": spaces.Discrete(4), "contract": spaces.Box(0.0, 5.0, (2,), np.float32)})
    f = ObservationFlattener(space)
    out = f({"state": 2, "contract": np.array([1.5, 0.0], dtype=np.float32)})
    np.testing.assert_array_equal(out, [1.5, 0.0, 0.0, 0.0, 1.0, 0.0])  # Dict keys in sorted order
    assert f.space.contains(out)


def test_image_layout_puts_other_parts_on_constant_planes():
    env = contract_envs.make("parallel", "contract_envs/coin_game-v1")
    obs, _ = env.reset(seed=0)
    raw = obs["agent_0"]
    first = ObservationFlattener(env.observation_space("agent_0"), "image", channels="first")
    last = ObservationFlattener(env.observation_space("agent_0"), "image", channels="last")
    a, b = first(raw), last(raw)
    assert a.shape == (4 + 4, 7, 7) and b.shape == (7, 7, 4 + 4)
    np.testing.assert_array_equal(a[:4], raw["grid"])
    for k in range(4):
        np.testing.assert_array_equal(a[4 + k], raw["contract"][k])
    np.testing.assert_array_equal(np.moveaxis(b, -1, 0), a)
    cleanup = contract_envs.make("parallel", "contract_envs/cleanup-v1")
    f = ObservationFlattener(cleanup.observation_space("agent_0"), "image")  # [9, 9, 3] is channels-last
    assert f.space.shape == (3, 9, 9)
    with pytest.raises(ValueError, match="exactly one 3-D Box"):
        ObservationFlattener(spaces.Box(0, 1, (5,)), "image")


@pytest.mark.parametrize("env_id", env_ids())
def test_flatten_parallel_env_plays_the_same_game(env_id):
    kwargs = SHORT.get(env_id, {})
    raw = contract_envs.make("parallel", env_id, **kwargs)
    flat = FlattenParallelEnv(contract_envs.make("parallel", env_id, **kwargs))
    raw_obs, _ = raw.reset(seed=3)
    flat_obs, _ = flat.reset(seed=3)
    rng = np.random.default_rng(0)
    while raw.agents:
        for p in raw.agents:
            assert flat.observation_space(p).contains(flat_obs[p])
            assert isinstance(flat.observation_space(p), spaces.Box) and flat.observation_space(p).dtype == np.float32
        moves = {}
        for p in raw.agents:
            space = flat.action_space(p)
            space.seed(int(rng.integers(2**31)))
            moves[p] = space.sample()
        raw_moves = {p: flat._act[p].unflatten(a) for p, a in moves.items()}
        raw_obs, r1, *_ = raw.step(raw_moves)
        flat_obs, r2, *_ = flat.step(moves)
        assert r1 == r2


@pytest.mark.parametrize("env_id", env_ids())
def test_turn_based_view_equals_the_aec_game_and_asks_only_movers(env_id):
    kwargs = SHORT.get(env_id, {})
    turn = TurnBasedEnv(env_id, observations="flat", actions="flat", **kwargs)
    aec = contract_envs.make("aec", env_id, **kwargs)
    obs, _ = turn.reset(seed=5)
    aec.reset(seed=5)
    machine = turn.machine
    rng = np.random.default_rng(1)
    returns = dict.fromkeys(turn.possible_agents, 0.0)
    aec_returns = dict.fromkeys(turn.possible_agents, 0.0)
    moves_per_player = dict.fromkeys(turn.possible_agents, 0)
    done = False
    while not done:
        assert list(obs) == turn.to_move and obs
        stage_movers = set(machine.stage_movers[machine.stage])
        assert set(obs) <= stage_movers  # only players whose move counts now
        actions = {}
        for p in obs:
            space = turn.action_space(p)
            space.seed(int(rng.integers(2**31)))
            actions[p] = space.sample()
            moves_per_player[p] += 1
        for p in obs:  # the same moves, one AEC turn each, in the AEC order
            assert aec.agent_selection == p
            aec.step(turn._act[p].unflatten(actions[p]))
            for q in aec.possible_agents:
                aec_returns[q] += aec.rewards.get(q, 0.0)
        obs, rewards, terms, truncs, _ = turn.step(actions)
        for p, r in rewards.items():
            returns[p] += r
        done = all(terms.values()) or all(truncs.values())
    assert set(obs) == set(turn.possible_agents)  # final observations for everyone
    assert returns == pytest.approx(aec_returns)
    assert set(moves_per_player.values()) == {turn.rounds}  # one move per player per round
    with pytest.raises(RuntimeError, match="episode has ended"):
        turn.step({})


def test_turn_based_view_rejects_wrong_players_and_bad_moves_before_changing_anything():
    env = TurnBasedEnv("contract_envs/coin_game-v1")
    obs, _ = env.reset(seed=0)
    assert list(obs) == ["principal_0"]
    with pytest.raises(ValueError, match=r"missing \['principal_0'\], not to move now \['agent_0'\]"):
        env.step({"agent_0": 0})
    snapshot = env.machine.snapshot()
    with pytest.raises(ValueError, match="principal_0"):
        env.step({"principal_0": np.full((2, 4), -1.0, dtype=np.float32)})
    assert env.machine.stage == snapshot.stage and env.to_move == ["principal_0"]
    obs, rewards, *_ = env.step({"principal_0": np.zeros((2, 4), dtype=np.float32)})
    assert list(obs) == ["agent_0", "agent_1"] and set(rewards.values()) == {0.0}


def test_flatten_gym_env_and_group_map():
    env = FlattenGymEnv(contract_envs.views.PrincipalGymEnv("contract_envs/coin_game-v1"))
    assert env.observation_space.shape == (4 * 7 * 7,) and env.action_space.shape == (8,)
    obs, _ = env.reset(seed=0)
    obs, reward, *_ = env.step(np.zeros(8, dtype=np.float32))
    assert env.observation_space.contains(obs)
    assert group_map(contract_envs.make("parallel", "contract_envs/escape_room-v1")) == {
        "principal": ["principal_0"],
        "agent": [f"agent_{i}" for i in range(5)],
    }
