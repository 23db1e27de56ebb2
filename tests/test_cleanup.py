"""Cleanup: maps, moves, the cleaning beam, the spawn formula and the designer's incentive types."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from contract_envs.games.cleanup import (
    AGENT_COLOURS,
    APPLE,
    CELL_CHARS,
    CELL_COLOURS,
    CELL_PIXELS,
    CLEAN,
    CLEANED,
    COLLECTED,
    DOWN,
    LEFT,
    NOOP,
    OTHER,
    RIGHT,
    RIVER,
    UP,
    WASTE,
)
from tests.battery import run_battery
from tests.incentive_helpers import new_game

CU = "contract_envs/cleanup-v1"


def test_battery_on_the_10x10_map():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(CU, {"map_name": "10x10", "incentives": "none", "horizon": 20})


def make_game(map_name="7x7", num_envs=1, **kwargs):
    """(game, state, rng) freshly reset with seed 0."""
    return new_game(CU, num_envs, map_name=map_name, **kwargs)


def step(game, state, rng, actions):
    return game.step(state, np.asarray(actions), None, rng)


def test_maps_spawn_points_and_observation_sizes():
    game, state, _ = make_game()
    np.testing.assert_array_equal(state.pos[0], [[5, 2], [1, 4]])  # agent 0 river side, agent 1 apple side
    assert (state.world[0] == WASTE).sum() == 2 and game.waste_density(state)[0] == 1.0
    assert game.observe_agents(state, None).shape == (1, 2, 9, 9, 3)
    big, big_state, _ = make_game("10x10")
    np.testing.assert_array_equal(big_state.pos[0], [[8, 3], [5, 4], [1, 6]])
    assert big.waste_density(big_state)[0] == 0.5 and len(big.waste_points) == 16 and len(big.apple_points) == 12
    assert big.observe_agents(big_state, None).shape == (1, 3, 15, 15, 3)
    env = contract_envs.make("parallel", CU)
    obs, _ = env.reset(seed=0)
    assert obs["principal_0"].shape == (7 * 7 * 3 + 2,)
    # egocentric: the agent's own colour sits at the centre of its window, outside the map is black
    centre = obs["agent_0"][4, 4] * 256
    np.testing.assert_array_equal(centre, [159, 67, 255])
    np.testing.assert_array_equal(obs["agent_1"][0, 0], [0, 0, 0])


def test_spawn_probabilities_follow_the_ssd_formula():
    game, _, _ = make_game(apple_respawn_prob=0.5, depletion_threshold=0.6, restoration_threshold=0.1)
    apple, waste = game.spawn_probabilities(np.array([0.0, 0.1, 0.35, 0.6, 0.9]))
    np.testing.assert_allclose(apple, [0.5, 0.5, 0.5 * (1 - 0.25 / 0.5), 0.0, 0.0])
    np.testing.assert_allclose(waste, [0.5, 0.5, 0.5, 0.0, 0.0])


def test_depleted_river_grows_nothing_and_clean_river_grows_apples():
    game, state, rng = make_game(num_envs=64)
    for _ in range(20):  # start is fully polluted: density 1 >= 0.6
        step(game, state, rng, np.full((64, 2), NOOP))
    assert (state.world == APPLE).sum() == 0 and (state.world == WASTE).sum() == 2 * 64
    state.world[state.world == WASTE] = RIVER  # clean river: d = 0 -> full apple probability 0.5
    game.spawn(state, np.arange(64), rng)
    grown = (state.world == APPLE).sum() / (64 * len(game.apple_points))
    assert 0.35 < grown < 0.65


def test_at_most_one_waste_cell_spawns_per_step():
    game, state, rng = make_game("10x10", num_envs=32, waste_spawn_prob=1.0, depletion_threshold=1.0)
    state.world[state.world == WASTE] = RIVER
    previous = (state.world == WASTE).sum(axis=(1, 2))
    for _ in range(10):
        step(game, state, rng, np.full((32, 3), NOOP))
        count = (state.world == WASTE).sum(axis=(1, 2))
        np.testing.assert_array_equal(count - previous, 1)  # probability 1: exactly one per step
        previous = count


def test_beam_cleans_the_first_waste_cell_and_stops():
    game, state, rng = make_game()
    state.pos[0] = [[5, 1], [1, 4]]
    tr = step(game, state, rng, [[CLEAN, NOOP]])
    assert state.world[0, 2, 1] == RIVER and state.world[0, 1, 1] == WASTE  # the beam stopped at the first waste
    assert state.last_cleaned[0, 0] == 1 and tr.outcomes[0, 0] == CLEANED and tr.agent_own[0, 0] == 0
    step(game, state, rng, [[CLEAN, NOOP]])
    assert state.world[0, 1, 1] == RIVER


def test_beam_width_three_and_length_five():
    game, state, rng = make_game("10x10", num_envs=2, n_agents=1, waste_spawn_prob=0.0, apple_respawn_prob=0.0)
    state.world[state.world == WASTE] = RIVER
    state.pos[:, 0] = [8, 5]
    # env 0: the last cell of each beam (centre: 5 cells in front; sides: 5 cells from beside the agent)
    reach = [(3, 5), (4, 4), (4, 6)]
    # env 1: one cell beyond each beam
    beyond = [(2, 5), (3, 4), (3, 6)]
    for cell in reach:
        state.world[(0, *cell)] = WASTE
    for cell in beyond:
        state.world[(1, *cell)] = WASTE
    step(game, state, rng, [[CLEAN], [CLEAN]])
    assert all(state.world[(0, *cell)] == RIVER for cell in reach)
    assert all(state.world[(1, *cell)] == WASTE for cell in beyond)
    np.testing.assert_array_equal(state.last_cleaned[:, 0], [3, 0])
    assert state.beam[1, 3, 5] and not state.beam[1, 2, 5] and state.beam[1, 8, 4] and state.beam[1, 4, 6]


def test_agents_block_beams():
    game, state, rng = make_game()
    state.pos[0] = [[5, 1], [3, 1]]
    step(game, state, rng, [[CLEAN, NOOP]])
    assert (state.world[0, 1:3, 1] == WASTE).all()


def test_moves_walls_apples_and_contested_cells():
    game, state, rng = make_game(num_envs=200)
    state.pos[:] = [[3, 3], [3, 5]]
    state.world[:, 3, 4] = APPLE
    # both step into the apple cell: exactly one gets it, at random
    tr = step(game, state, rng, np.tile([RIGHT, LEFT], (200, 1)))
    winners = tr.agent_own.argmax(axis=1)
    assert np.all(tr.agent_own.sum(axis=1) == 1)
    assert 60 < (winners == 0).sum() < 140
    np.testing.assert_array_equal(tr.outcomes[np.arange(200), winners], COLLECTED)
    np.testing.assert_array_equal(tr.outcomes[np.arange(200), 1 - winners], OTHER)
    assert np.all(state.pos[np.arange(200), winners] == [3, 4])
    # walls block; swaps are refused; following into a vacated cell works
    game, state, rng = make_game()
    state.pos[0] = [[1, 4], [1, 5]]
    step(game, state, rng, [[UP, RIGHT]])  # wall above agent 0, wall right of agent 1
    np.testing.assert_array_equal(state.pos[0], [[1, 4], [1, 5]])
    step(game, state, rng, [[RIGHT, LEFT]])  # swap refused
    np.testing.assert_array_equal(state.pos[0], [[1, 4], [1, 5]])
    step(game, state, rng, [[RIGHT, DOWN]])  # agent 0 follows agent 1
    np.testing.assert_array_equal(state.pos[0], [[1, 5], [2, 5]])
    step(game, state, rng, [[DOWN, NOOP]])  # cannot enter a cell whose occupant stays
    np.testing.assert_array_equal(state.pos[0], [[1, 5], [2, 5]])


def test_designer_pays_per_action_type():
    env = contract_envs.vector.make(CU, 1, seed=0)
    env.state.world[0, 1, 5] = APPLE  # agent_1 at (1, 4) steps right onto it
    schedule = np.array([[0.7, 0.3, 0.1]])  # cleaned, collected, other
    _, rewards, _, _, infos = env.step({"principal_0": schedule, "agent_0": [CLEAN], "agent_1": [RIGHT]})
    assert rewards["agent_0"][0] == pytest.approx(0.7)
    assert rewards["agent_1"][0] == pytest.approx(1.0 + 0.3)
    assert infos["agent_1"]["apples"][0] == 1
    assert infos["agent_0"]["cleaned"][0] == 1  # its left side beam reaches the waste at (2, 1)
    assert rewards["principal_0"][0] == pytest.approx(1.0 - 1.0)
    # the realised outcome types are in the infos
    assert infos["agent_0"]["outcome"][0] == CLEANED and infos["agent_1"]["outcome"][0] == COLLECTED
    np.testing.assert_array_equal(infos["principal_0"]["outcomes"][0], [CLEANED, COLLECTED])
    _, rewards, _, _, infos = env.step({"principal_0": schedule, "agent_0": [NOOP], "agent_1": [LEFT]})
    assert rewards["agent_0"][0] == pytest.approx(0.1) and rewards["agent_1"][0] == pytest.approx(0.1)
    np.testing.assert_array_equal(infos["principal_0"]["outcomes"][0], [OTHER, OTHER])
    obs, *_ = env.step({"principal_0": schedule, "agent_0": [CLEAN], "agent_1": [NOOP]})
    np.testing.assert_array_equal(obs["principal_0"][0, -2:], [1.0, 0.0])  # "cleaned this step" bits


def test_cleaning_penalty_is_charged_per_clean_action():
    env = contract_envs.vector.make(CU, 1, seed=0, cleaning_penalty=0.25, incentives="none")
    _, rewards, _, _, infos = env.step({"agent_0": [CLEAN], "agent_1": [NOOP]})
    assert rewards["agent_0"][0] == -0.25 and rewards["agent_1"][0] == 0.0
    assert infos["agent_0"]["outcome"][0] == CLEANED  # cleaning, not the sign of the reward, sets the type


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
        _, rewards, _, truncs, _ = env.step({"agent_0": np.full(seeds, a0), "agent_1": np.full(seeds, a1)})
        total += rewards["agent_0"] + rewards["agent_1"]
    assert truncs["agent_0"].all()  # the default horizon is 50 rounds
    return total


def test_division_of_labour_beats_two_harvesters():
    """The river starts polluted: without cleaning no apple ever grows; a cleaner makes harvests possible."""
    both_harvest = scripted_return(cleaner=False)
    cleaner_and_harvester = scripted_return(cleaner=True)
    assert both_harvest.max() == 0.0
    assert cleaner_and_harvester.mean() > 3.0


def test_render_modes():
    env = contract_envs.make("parallel", CU, render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    px = CELL_PIXELS
    assert frame.shape[0] >= 7 * px and frame.shape[1] > 7 * px and frame.dtype == np.uint8  # the map, then a panel
    # every block of the map shows the colour of its cell: the agents' colours on their cells, else the cell type's
    state = env.machine.state
    cells = frame[: 7 * px : px, : 7 * px : px].astype(np.float32)
    for r in range(7):
        for c in range(7):
            agent = [i for i in range(2) if tuple(state.pos[0, i]) == (r, c)]
            colour = AGENT_COLOURS[agent[0]] if agent else CELL_COLOURS[state.world[0, r, c]]
            np.testing.assert_array_equal(cells[r, c], colour, err_msg=f"cell {(r, c)}")
    np.testing.assert_array_equal(frame[px * 3 : px * 4, px * 3 : px * 4], 0)  # an empty cell: a black block
    env = contract_envs.make("parallel", CU, render_mode="ansi")
    env.reset(seed=0)
    text = env.render()
    assert "@H  1 @" in text and "@ 0   @" in text
    # the ansi grid is the state's map: cell characters, with the agents' ids on their cells
    state = env.machine.state
    expected = CELL_CHARS[state.world[0]].astype("<U1")
    for i in range(2):
        expected[tuple(state.pos[0, i])] = str(i)
    grid = [line.split(" | ")[0] for line in text.splitlines()[1:8]]  # the machine appends " | coming stage: act"
    assert grid == ["".join(row) for row in expected]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_agents": 2.7}, "n_agents"),
        ({"n_agents": 3}, r"n_agents \(spawn points on map '7x7'\) must be an integer in \[1, 2\]"),
        ({"horizon": float("nan")}, "horizon"),
        ({"view_size": 2.5}, r"view_size must be an integer in \[1, inf\)"),
        ({"view_size": 0}, "view_size"),
        ({"apple_respawn_prob": float("nan")}, r"apple_respawn_prob must be a finite real number in \[0.0, 1.0\]"),
        ({"waste_spawn_prob": 1.5}, r"waste_spawn_prob must be a finite real number in \[0.0, 1.0\]"),
        ({"depletion_threshold": float("inf")}, "depletion_threshold must be a finite real number"),
        ({"depletion_threshold": 0.0}, r"depletion_threshold must be a finite real number in \(0.0, 1.0\]"),
        ({"restoration_threshold": 0.6}, "restoration_threshold < depletion_threshold"),
        ({"restoration_threshold": float("nan")}, "restoration_threshold"),
        ({"cleaning_penalty": float("nan")}, r"cleaning_penalty must be a finite real number in \[0.0, inf\)"),
        ({"cleaning_penalty": -1.0}, "cleaning_penalty"),
        ({"map_name": "15x15"}, "map_name must be one of"),
        ({"incentives": "peer"}, "incentives must be one of"),
    ],
)
def test_constructor_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match=message):
        contract_envs.vector.make(CU, 1, **kwargs)
