"""Cleanup: maps, moves, the cleaning beam, the spawn formula and the designer's incentive types."""

from __future__ import annotations

import numpy as np
import pytest

import contract_envs.vector
from contract_envs.envs import cleanup_v0
from contract_envs.envs.cleanup import (
    APPLE,
    CLEAN,
    CLEANED,
    COLLECTED,
    DOWN,
    EMPTY,
    LEFT,
    NOOP,
    OTHER,
    RIGHT,
    RIVER,
    UP,
    WASTE,
    CleanupGame,
)
from tests.battery import run_battery

CU = "contract_envs/cleanup-v0"


@pytest.mark.parametrize("kwargs", [{}, {"map_name": "10x10", "incentives": "none"}], ids=["7x7", "10x10"])
def test_battery(kwargs):
    run_battery(cleanup_v0, kwargs, cycles=100)


def make_game(map_name="7x7", num_envs=1, **kwargs) -> CleanupGame:
    game = CleanupGame(num_envs=num_envs, map_name=map_name, **kwargs)
    game.reset(seed=0)
    return game


def test_maps_spawn_points_and_observation_sizes():
    game = make_game()
    np.testing.assert_array_equal(game.pos[0], [[5, 2], [1, 4]])  # agent 0 river side, agent 1 apple side
    assert (game.world[0] == WASTE).sum() == 2 and game.waste_density()[0] == 1.0
    assert game.agent_observation(None).shape == (1, 2, 9, 9, 3)
    big = make_game("10x10")
    np.testing.assert_array_equal(big.pos[0], [[8, 3], [5, 4], [1, 6]])
    assert big.waste_density()[0] == 0.5 and len(big.waste_points) == 16 and len(big.apple_points) == 12
    assert big.agent_observation(None).shape == (1, 3, 15, 15, 3)
    env = cleanup_v0.parallel_env()
    obs, _ = env.reset(seed=0)
    assert obs["principal_0"].shape == (7 * 7 * 3 + 2,)
    # egocentric: the agent's own colour sits at the centre of its window, outside the map is black
    centre = obs["agent_0"][4, 4] * 256
    np.testing.assert_array_equal(centre, [159, 67, 255])
    np.testing.assert_array_equal(obs["agent_1"][0, 0], [0, 0, 0])


def test_spawn_probabilities_follow_the_ssd_formula():
    game = make_game(apple_respawn_prob=0.5, depletion_threshold=0.6, restoration_threshold=0.1)
    apple, waste = game.spawn_probabilities(np.array([0.0, 0.1, 0.35, 0.6, 0.9]))
    np.testing.assert_allclose(apple, [0.5, 0.5, 0.5 * (1 - 0.25 / 0.5), 0.0, 0.0])
    np.testing.assert_allclose(waste, [0.5, 0.5, 0.5, 0.0, 0.0])


def test_depleted_river_grows_nothing_and_clean_river_grows_apples():
    game = make_game(num_envs=64)
    for _ in range(20):  # start is fully polluted: density 1 >= 0.6
        game.step(np.full((64, 2), NOOP))
    assert (game.world == APPLE).sum() == 0 and (game.world == WASTE).sum() == 2 * 64
    game.world[game.world == WASTE] = RIVER  # clean river: d = 0 -> full apple probability 0.5
    game._spawn(game.all_envs)
    grown = (game.world == APPLE).sum() / (64 * len(game.apple_points))
    assert 0.35 < grown < 0.65


def test_at_most_one_waste_cell_spawns_per_step():
    game = make_game("10x10", num_envs=32, waste_spawn_prob=1.0, depletion_threshold=1.0)
    game.world[game.world == WASTE] = RIVER
    previous = (game.world == WASTE).sum(axis=(1, 2))
    for _ in range(10):
        game.step(np.full((32, 3), NOOP))
        count = (game.world == WASTE).sum(axis=(1, 2))
        np.testing.assert_array_equal(count - previous, 1)  # probability 1: exactly one per step
        previous = count


def test_beam_cleans_the_first_waste_cell_and_stops():
    game = make_game()
    game.pos[0] = [[5, 1], [1, 4]]
    tr, _ = game.step(np.array([[CLEAN, NOOP]]))
    assert game.world[0, 2, 1] == RIVER and game.world[0, 1, 1] == WASTE  # the beam stopped at the first waste
    assert game.last_cleaned[0, 0] == 1 and tr.outcomes[0, 0] == CLEANED and tr.agent_own[0, 0] == 0
    game.step(np.array([[CLEAN, NOOP]]))
    assert game.world[0, 1, 1] == RIVER


def test_beam_width_three_and_length_five():
    game = make_game("10x10", num_envs=2, n_agents=1, waste_spawn_prob=0.0, apple_respawn_prob=0.0)
    game.world[game.world == WASTE] = RIVER
    game.pos[:, 0] = [8, 5]
    # env 0: the last cell of each beam (centre: 5 cells in front; sides: 5 cells from beside the agent)
    reach = [(3, 5), (4, 4), (4, 6)]
    # env 1: one cell beyond each beam
    beyond = [(2, 5), (3, 4), (3, 6)]
    for cell in reach:
        game.world[(0, *cell)] = WASTE
    for cell in beyond:
        game.world[(1, *cell)] = WASTE
    game.step(np.array([[CLEAN], [CLEAN]]))
    assert all(game.world[(0, *cell)] == RIVER for cell in reach)
    assert all(game.world[(1, *cell)] == WASTE for cell in beyond)
    np.testing.assert_array_equal(game.last_cleaned[:, 0], [3, 0])
    assert game.beam[1, 3, 5] and not game.beam[1, 2, 5] and game.beam[1, 8, 4] and game.beam[1, 4, 6]


def test_agents_block_beams():
    game = make_game()
    game.pos[0] = [[5, 1], [3, 1]]
    game.step(np.array([[CLEAN, NOOP]]))
    assert (game.world[0, 1:3, 1] == WASTE).all()


def test_moves_walls_apples_and_contested_cells():
    game = make_game(num_envs=200)
    game.pos[:] = [[3, 3], [3, 5]]
    game.world[:, 3, 4] = APPLE
    # both step into the apple cell: exactly one gets it, at random
    tr, _ = game.step(np.tile([RIGHT, LEFT], (200, 1)))
    winners = tr.agent_own.argmax(axis=1)
    assert np.all(tr.agent_own.sum(axis=1) == 1)
    assert 60 < (winners == 0).sum() < 140
    np.testing.assert_array_equal(tr.outcomes[np.arange(200), winners], COLLECTED)
    np.testing.assert_array_equal(tr.outcomes[np.arange(200), 1 - winners], OTHER)
    assert np.all(game.pos[np.arange(200), winners] == [3, 4])
    # walls block; swaps are refused; following into a vacated cell works
    game = make_game()
    game.pos[0] = [[1, 4], [1, 5]]
    game.step(np.array([[UP, RIGHT]]))  # wall above agent 0, wall right of agent 1
    np.testing.assert_array_equal(game.pos[0], [[1, 4], [1, 5]])
    game.step(np.array([[RIGHT, LEFT]]))  # swap refused
    np.testing.assert_array_equal(game.pos[0], [[1, 4], [1, 5]])
    game.step(np.array([[RIGHT, DOWN]]))  # agent 0 follows agent 1
    np.testing.assert_array_equal(game.pos[0], [[1, 5], [2, 5]])
    game.step(np.array([[DOWN, NOOP]]))  # cannot enter a cell whose occupant stays
    np.testing.assert_array_equal(game.pos[0], [[1, 5], [2, 5]])


def test_designer_pays_per_action_type():
    env = contract_envs.vector.make(CU, 1, seed=0)
    env.game.world[0, 1, 5] = APPLE  # agent_1 at (1, 4) steps right onto it
    schedule = np.array([[0.7, 0.3, 0.1]])  # cleaned, collected, other
    _, rewards, _, _, infos = env.step({"principal_0": schedule, "agent_0": [CLEAN], "agent_1": [RIGHT]})
    assert rewards["agent_0"][0] == pytest.approx(0.7)
    assert rewards["agent_1"][0] == pytest.approx(1.0 + 0.3)
    assert infos["agent_1"]["apples"][0] == 1
    assert infos["agent_0"]["cleaned"][0] == 1  # its left side beam reaches the waste at (2, 1)
    assert rewards["principal_0"][0] == pytest.approx(1.0 - 1.0)
    _, rewards, *_ = env.step({"principal_0": schedule, "agent_0": [NOOP], "agent_1": [LEFT]})
    assert rewards["agent_0"][0] == pytest.approx(0.1) and rewards["agent_1"][0] == pytest.approx(0.1)
    obs, *_ = env.step({"principal_0": schedule, "agent_0": [CLEAN], "agent_1": [NOOP]})
    np.testing.assert_array_equal(obs["principal_0"][0, -2:], [1.0, 0.0])  # "cleaned this step" bits


def scripted_return(cleaner: bool, seeds: int = 24) -> np.ndarray:
    """Collective return over 50 steps: agent 1 harvests the apple column; agent 0 cleans or harvests too."""
    env = contract_envs.vector.make(CU, seeds, seed=0, incentives="none", autoreset=False)
    total = np.zeros(seeds)
    for t in range(50):
        # agent 1 walks to column 5 and patrols it; agent 0 steps next to the river and cleans
        a1 = RIGHT if t == 0 else (DOWN if (t // 4) % 2 == 0 else UP)
        if cleaner:
            a0 = LEFT if t == 0 else CLEAN
        else:
            a0 = RIGHT if t < 3 else (UP if (t // 4) % 2 == 0 else DOWN)
        _, rewards, *_ = env.step({"agent_0": np.full(seeds, a0), "agent_1": np.full(seeds, a1)})
        total += rewards["agent_0"] + rewards["agent_1"]
    return total


def test_division_of_labour_beats_two_harvesters():
    """The river starts polluted: without cleaning no apple ever grows; a cleaner makes harvests possible."""
    both_harvest = scripted_return(cleaner=False)
    cleaner_and_harvester = scripted_return(cleaner=True)
    assert both_harvest.max() == 0.0
    assert cleaner_and_harvester.mean() > 3.0


def test_render_modes():
    env = cleanup_v0.parallel_env(render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (7 * 16, 7 * 16, 3) and frame.dtype == np.uint8
    env = cleanup_v0.parallel_env(render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "@H  1 @" in text and "@ 0   @" in text
    assert EMPTY == 0
