"""Coin Game: rules on hand-built states, batched == single, ledger properties, views, registration."""

from __future__ import annotations

import warnings

import gymnasium
import numpy as np
import pettingzoo
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from hypothesis import given, settings
from hypothesis import strategies as st
from pettingzoo.test import parallel_api_test

import contract_envs
import contract_envs.vector
from contract_envs.adapters.views import AgentsOnlyParallelEnv
from contract_envs.games.coin_game import (
    PRESETS,
    CoinGame,
    SelfishCoinAgent,
    _palette,
    coin_game_rules,
)
from contract_envs.rng import BatchedStreams
from tests.battery import run_battery

ENV_ID = "contract_envs/coin_game-v1"
RIGHT, LEFT, DOWN, UP, STAY = range(5)


class Board:
    """A Coin Game with its state and random streams, for rule tests on hand-built states."""

    def __init__(self, preset: str = "parl_3x3", num_envs: int = 1, principal: bool = False, **rules) -> None:
        self.game = CoinGame(coin_game_rules(preset, **rules), num_envs=num_envs, principal=principal)
        self.state = self.game.init_state()
        self.rng = BatchedStreams.from_seed(0, num_envs)
        self.game.reset(self.state, np.arange(num_envs), self.rng)

    @property
    def agent_cell(self) -> np.ndarray:
        return self.state.agent_cell

    @property
    def coin_cell(self) -> np.ndarray:
        return self.state.coin_cell

    @property
    def coin_colour(self) -> np.ndarray:
        return self.state.coin_colour

    def cell(self, row: int, col: int) -> int:
        return row * self.game.grid_size + col

    def place(self, agents, coins, colours=None) -> None:
        """Put agents and coins at (row, col) cells in every env of the batch."""
        self.state.agent_cell[:] = [self.cell(r, c) for r, c in agents]
        self.state.coin_cell[:] = [self.cell(r, c) for r, c in coins]
        if colours is not None:
            self.state.coin_colour[:] = colours
        self.state.clear_cache()

    def step(self, *actions) -> np.ndarray:
        joint = np.tile(np.array(actions, dtype=np.int64), (self.game.num_envs, 1))
        return self.game.step(self.state, joint, None, self.rng).agent_own

    def step_batch(self, actions: np.ndarray) -> np.ndarray:
        return self.game.step(self.state, actions, None, self.rng).agent_own


# --------------------------------------------------------------------------- battery (non-default arguments)
BATTERY_CASES = [
    {"preset": "parl_3x3"},
    {"preset": "rllib"},
    {"preset": "lola"},
    {"preset": "jaxmarl"},
    {"preset": "parl_3x3", "principal": False},
    {
        "preset": "rllib",
        "n_agents": 3,
        "obs_view": "egocentric",
        "tie_rule": "random",
        "coins": "random",
        "reward_sharing": 0.5,
    },
]


@pytest.mark.parametrize("kwargs", BATTERY_CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
def test_battery(kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run_battery(ENV_ID, kwargs)


def test_registration_and_spaces():
    assert ENV_ID in contract_envs.env_ids()
    par = pettingzoo.make("parallel", ENV_ID, preset="jaxmarl")
    assert par.possible_agents == ["principal_0", "agent_0", "agent_1"]
    obs, _ = par.reset(seed=0)
    grid = obs["agent_0"]["grid"]
    assert grid.shape == (36,) and grid.dtype == np.int8
    assert par.observation_space("agent_0")["grid"].dtype == np.int8
    assert par.action_space("agent_0") == gymnasium.spaces.Discrete(5)
    assert par.action_space("principal_0").shape == (2, 5) and par.action_space("principal_0").dtype == np.float32
    assert obs["agent_0"]["contract"].dtype == np.float32
    assert obs["principal_0"].shape == (36,) and obs["principal_0"].dtype == np.int8
    plain = contract_envs.make("parallel", ENV_ID, principal=False, preset="rllib")
    assert plain.possible_agents == ["agent_0", "agent_1"]
    obs, _ = plain.reset(seed=0)
    assert obs["agent_0"].shape == (3, 3, 4) and obs["agent_0"].dtype == np.uint8
    assert plain.machine.game.horizon == 20 and par.machine.game.horizon == 100  # rounds
    assert plain.max_cycles is None  # PettingZoo's cycles: only when asked for


def test_presets_are_complete_and_overridable():
    fields = set(coin_game_rules().__dataclass_fields__)
    for name, table in PRESETS.items():
        assert set(table) == fields, name
    rules = coin_game_rules("rllib", grid_size=7, tie_rule="random")
    assert (rules.grid_size, rules.tie_rule, rules.owner_penalty, rules.horizon) == (7, "random", 2.0, 20)
    assert coin_game_rules() == coin_game_rules("parl")
    with pytest.raises(ValueError, match="max_steps was renamed horizon"):
        coin_game_rules("parl", max_steps=10)


# --------------------------------------------------------------------------- rules on hand-built states
def test_pickup_own_coin_then_colour_cycles_and_coin_respawns_off_agents():
    board = Board("parl_3x3", num_envs=64)
    board.place(agents=[(0, 0), (2, 2)], coins=[(0, 1)], colours=[0])
    rewards = board.step(RIGHT, LEFT)
    np.testing.assert_array_equal(rewards, np.tile([1.0, 0.0], (64, 1)))
    assert np.all(board.coin_colour == 1)
    assert not np.any(board.coin_cell == board.agent_cell[:, :1]) and not np.any(
        board.coin_cell == board.agent_cell[:, 1:]
    )
    assert len(np.unique(board.coin_cell)) > 3  # respawn is random over the free cells


def test_other_colour_rewards_and_owner_penalty():
    parl = Board("parl_3x3")
    parl.place(agents=[(0, 0), (2, 2)], coins=[(0, 1)], colours=[1])
    np.testing.assert_allclose(parl.step(RIGHT, LEFT), [[0.2, 0.0]])
    rllib = Board("rllib")
    rllib.place(agents=[(0, 0), (2, 2)], coins=[(0, 1)], colours=[1])
    np.testing.assert_allclose(rllib.step(RIGHT, LEFT), [[1.0, -2.0]])
    asym = Board("rllib", asymmetric_bonus=3.0)
    asym.place(agents=[(0, 0), (2, 2)], coins=[(0, 1)], colours=[0])
    np.testing.assert_allclose(asym.step(RIGHT, LEFT), [[4.0, 0.0]])


def test_tie_rule_all_credits_every_lander():
    board = Board("rllib")
    board.place(agents=[(0, 0), (0, 2)], coins=[(0, 1)], colours=[0])
    np.testing.assert_allclose(board.step(RIGHT, LEFT), [[1.0 - 2.0, 1.0]])  # red nets -1, blue +1
    assert board.coin_colour[0, 0] == 1


def test_tie_rule_first_gives_the_coin_to_agent_0_even_if_blue():
    board = Board("lola")
    board.place(agents=[(0, 0), (0, 2)], coins=[(0, 1)], colours=[1])
    np.testing.assert_allclose(board.step(RIGHT, LEFT), [[1.0, -2.0]])


def test_tie_rule_random_gives_the_coin_to_exactly_one_uniformly():
    board = Board("parl_3x3", num_envs=2000, tie_rule="random")
    board.place(agents=[(0, 0), (0, 2)], coins=[(0, 1)], colours=[0])
    rewards = board.step(RIGHT, LEFT)
    winner_is_0 = rewards[:, 0] == 1.0
    assert np.all(winner_is_0 ^ (rewards[:, 1] == 0.2))  # exactly one picker per env
    assert 0.45 < winner_is_0.mean() < 0.55


def test_spawn_never_on_an_agent_even_on_a_crowded_board():
    board = Board("parl_3x3", num_envs=200, n_agents=8, coins="random")
    rng = np.random.default_rng(0)
    picked = 0
    for _ in range(40):
        before = board.coin_cell.copy()
        board.step_batch(rng.integers(0, 4, (200, 8)))
        picked += int((board.coin_cell != before).sum())
        on_agent = (board.agent_cell[:, :, None] == board.coin_cell[:, None, :]).any(axis=(1, 2))
        assert not on_agent.any()
    assert picked > 100
    # the reset also keeps coins off agents and agents on distinct cells
    board.game.reset(board.state, np.arange(200), board.rng)
    assert all(len(set(row)) == 8 for row in board.agent_cell.tolist())
    assert not (board.agent_cell[:, :, None] == board.coin_cell[:, None, :]).any()


def test_spawn_on_agents_and_start_overlap_when_allowed():
    board = Board("jaxmarl", num_envs=500)
    overlap_start = board.agent_cell[:, 0] == board.agent_cell[:, 1]
    coin_on_agent = (board.agent_cell[:, :, None] == board.coin_cell[:, None, :]).any(axis=(1, 2))
    assert 0.05 < overlap_start.mean() < 0.2  # 1/9 expected
    assert coin_on_agent.any()


def test_per_agent_coins_respawn_independently_and_keep_their_colour():
    board = Board("jaxmarl", num_envs=300)
    board.place(agents=[(0, 0), (2, 2)], coins=[(0, 1), (1, 1)])
    rewards = board.step(RIGHT, STAY)
    np.testing.assert_allclose(rewards, np.tile([1.0, 0.0], (300, 1)))
    assert np.all(board.coin_cell[:, 1] == board.cell(1, 1))  # blue coin untouched
    assert np.all(board.coin_colour == [0, 1])
    counts = np.bincount(board.coin_cell[:, 0], minlength=9)
    assert counts.min() > 10  # red coin respawned uniformly, agents' cells included


def test_wrap_around_moves():
    board = Board("jaxmarl")
    board.place(agents=[(0, 0), (2, 2)], coins=[(1, 1), (1, 1)])
    board.step(UP, DOWN)
    assert board.agent_cell[0].tolist() == [board.cell(2, 0), board.cell(0, 2)]
    board.step(LEFT, RIGHT)
    assert board.agent_cell[0].tolist() == [board.cell(2, 2), board.cell(0, 0)]
    board.step(STAY, STAY)
    assert board.agent_cell[0].tolist() == [board.cell(2, 2), board.cell(0, 0)]
    big = Board("parl")
    big.place(agents=[(3, 6), (6, 3)], coins=[(0, 0)], colours=[0])
    big.step(RIGHT, DOWN)
    assert big.agent_cell[0].tolist() == [big.cell(3, 0), big.cell(0, 3)]


def test_jaxmarl_inner_episodes_redraw_without_ending():
    env = contract_envs.vector.make(ENV_ID, num_envs=64, seed=0, preset="jaxmarl", principal=False)
    stay = {a: np.full(64, STAY) for a in env.agents}
    for round_ in range(1, 101):
        before = env.state.agent_cell.copy()
        _, _, terms, truncs, _ = env.step(stay)
        moved = (env.state.agent_cell != before).any(axis=1)
        if round_ % 10 or round_ == 100:
            assert not moved.any() or round_ == 100
        else:
            assert moved.mean() > 0.5  # positions redrawn every 10 rounds
        assert not terms["agent_0"].any()
        assert truncs["agent_0"].all() == (round_ == 100)


def test_observation_channels_views_and_layouts():
    board = Board("parl_3x3", num_envs=16, principal=True)
    board.place(agents=[(0, 0), (1, 2)], coins=[(2, 1)], colours=[1])
    glob = board.game.observe_principal(board.state)[0]  # (4, 3, 3): agent_0, agent_1, coin colour 0, colour 1
    assert glob[0, 0, 0] == 1 and glob[1, 1, 2] == 1 and glob[3, 2, 1] == 1 and glob[2].sum() == 0
    grids = board.game.agent_grids(board.state)
    np.testing.assert_array_equal(grids[0, 0], glob)
    np.testing.assert_array_equal(grids[0, 1], glob[[1, 0, 3, 2]])  # colour swap for blue
    ego = Board("parl_3x3", num_envs=16, obs_view="egocentric")
    ego.place(agents=[(0, 0), (1, 2)], coins=[(2, 1)], colours=[1])
    eg = ego.game.agent_grids(ego.state)[0]
    assert eg[0, 0, 1, 1] == 1 and eg[1, 0, 1, 1] == 1  # everyone sits at the centre
    assert eg[0, 1, 2, 0] == 1  # agent_1 is one row down, two columns right (= one left) of agent_0
    assert eg[0, 3, 0, 2] == 1 and eg[1, 2, 2, 0] == 1  # the blue coin: "other" for 0, "own" for 1
    shared = Board("lola", num_envs=16)
    shared.place(agents=[(0, 0), (1, 2)], coins=[(2, 1)], colours=[1])
    sg = shared.game.agent_grids(shared.state)[0]
    np.testing.assert_array_equal(sg[0], shared.game.observe_principal(shared.state)[0])
    np.testing.assert_array_equal(sg[1], sg[0])
    for layout in ("hwc", "flat"):
        other = Board("parl_3x3", num_envs=16, obs_layout=layout)
        other.place(agents=[(0, 0), (1, 2)], coins=[(2, 1)], colours=[1])
        got = other.game.agent_grids(other.state)
        hwc = np.moveaxis(grids, 2, -1)
        np.testing.assert_array_equal(got, hwc if layout == "hwc" else hwc.reshape(16, 2, -1))


def test_n_agents_channels():
    board = Board("parl", num_envs=2, n_agents=4, coins="per_agent")
    board.place(agents=[(0, 0), (0, 1), (0, 2), (0, 3)], coins=[(1, 0), (1, 1), (1, 2), (1, 3)])
    grids = board.game.agent_grids(board.state)[0]  # [N, 4, G, G]
    for i in range(4):
        assert grids[i, 0, 0, i] == 1 and grids[i, 0].sum() == 1
        assert grids[i, 1, 0].sum() == 3 and grids[i, 1, 0, i] == 0
        assert grids[i, 2, 1, i] == 1 and grids[i, 2].sum() == 1 and grids[i, 3].sum() == 3


# --------------------------------------------------------------------------- batched == single
EQUIVALENCE_CASES = [
    {"preset": "parl_3x3", "horizon": 7},
    {"preset": "jaxmarl", "horizon": 23},
    {"preset": "lola", "horizon": 9, "principal": False},
    {
        "preset": "rllib",
        "horizon": 6,
        "n_agents": 3,
        "tie_rule": "random",
        "coins": "random",
        "obs_view": "egocentric",
        "reward_sharing": 0.25,
    },
]


@pytest.mark.parametrize("kwargs", EQUIVALENCE_CASES)
def test_batched_env_b_equals_single_env_seeded_s_plus_b(kwargs):
    num_envs, seed, rounds = 4, 11, 30
    batched = contract_envs.vector.make(ENV_ID, num_envs, seed=seed, **kwargs)
    singles = [contract_envs.vector.make(ENV_ID, 1, seed=seed + b, **kwargs) for b in range(num_envs)]
    rng = np.random.default_rng(0)
    n_actions = batched.game.n_actions
    for _ in range(rounds * batched.stages_per_round):
        actions = {a: rng.integers(0, n_actions, num_envs) for a in batched.agents}
        if batched.game.has_principal:
            actions["principal_0"] = rng.uniform(0, 2.0, (num_envs, batched.game.n_agents, n_actions))
        out = batched.step(actions)
        for b, single in enumerate(singles):
            one = single.step({p: v[b : b + 1] for p, v in actions.items()})
            for got, want in zip(out, one, strict=True):
                for player in want:
                    assert data_equivalence(_slice(got[player], b), _slice(want[player], 0), exact=True), player


def _slice(x, b):
    if isinstance(x, dict):
        return {k: _slice(v, b) for k, v in x.items()}
    if isinstance(x, np.ndarray) and x.ndim:
        return x[b]
    return x


# --------------------------------------------------------------------------- ledger properties
@settings(max_examples=25, deadline=None)
@given(
    preset=st.sampled_from(sorted(PRESETS)),
    seed=st.integers(0, 2**31),
    sharing=st.sampled_from([0.0, 0.3, 1.0]),
    welfare_weight=st.floats(0.0, 20.0),
    n_agents=st.integers(2, 4),
    cap=st.floats(0.5, 10.0),
)
def test_ledger_and_welfare_conservation_with_random_contracts(preset, seed, sharing, welfare_weight, n_agents, cap):
    num_envs = 8
    env = contract_envs.vector.make(
        ENV_ID,
        num_envs,
        seed=seed,
        preset=preset,
        n_agents=n_agents,
        reward_sharing=sharing,
        welfare_weight=welfare_weight,
        payment_cap=cap,
        horizon=5,
    )
    rng = np.random.default_rng(seed)
    n, a = n_agents, env.game.n_actions
    totals = {"payment": np.zeros(num_envs), "welfare": np.zeros(num_envs), "transfer": np.zeros((num_envs, n))}
    for _ in range(12):
        contracts = rng.uniform(0, cap, (num_envs, n, a)) * (rng.random((num_envs, n, a)) < 0.7)
        env.step({"principal_0": contracts})
        actions = rng.integers(0, a, (num_envs, n))
        _, rewards, _, truncs, infos = env.step({f"agent_{i}": actions[:, i] for i in range(n)})
        pinfo = infos["principal_0"]
        own = np.stack([infos[f"agent_{i}"]["own_reward"] for i in range(n)], axis=1)
        pay = np.stack([infos[f"agent_{i}"]["payment"] for i in range(n)], axis=1)
        np.testing.assert_array_equal(pinfo["outcomes"], actions)  # observed-action contracts: outcome = action
        if sharing:
            transfer = np.stack(
                [infos[f"agent_{i}"]["transfer_in"] - infos[f"agent_{i}"]["transfer_out"] for i in range(n)], axis=1
            )
            assert pinfo["transfer_in"].sum() == pinfo["transfer_out"].sum() == 0.0  # the principal takes no part
        else:
            assert "transfer_in" not in infos["agent_0"]
            transfer = np.zeros((num_envs, n))
        np.testing.assert_array_equal(pay, np.take_along_axis(contracts, actions[..., None], 2)[..., 0])
        np.testing.assert_allclose(pinfo["payment"], pay.sum(axis=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(pinfo["welfare"], own.sum(axis=1), rtol=0, atol=1e-12)
        np.testing.assert_allclose(pinfo["own_reward"], welfare_weight * own.sum(axis=1), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rewards["principal_0"], pinfo["own_reward"] - pinfo["payment"], atol=1e-12)
        np.testing.assert_allclose(transfer.sum(axis=1), 0.0, atol=1e-12)
        np.testing.assert_allclose(transfer, sharing * (own.mean(axis=1, keepdims=True) - own), atol=1e-12)
        for i in range(n):
            np.testing.assert_allclose(rewards[f"agent_{i}"], own[:, i] + pay[:, i] + transfer[:, i], atol=1e-12)
        totals["payment"] += pinfo["payment"]
        totals["welfare"] += pinfo["welfare"]
        totals["transfer"] += transfer
        np.testing.assert_allclose(pinfo["episode_payment"], totals["payment"], atol=1e-9)
        np.testing.assert_allclose(pinfo["episode_welfare"], totals["welfare"], atol=1e-9)
        if sharing:
            net = infos["agent_0"]["episode_transfer_in"] - infos["agent_0"]["episode_transfer_out"]
            np.testing.assert_allclose(net, totals["transfer"][:, 0], atol=1e-9)
        done = truncs["principal_0"]
        for key in totals:
            totals[key][done] = 0.0


# --------------------------------------------------------------------------- errors
def test_bad_contracts_and_actions_raise_clear_errors():
    env = contract_envs.make("parallel", ENV_ID, preset="parl_3x3")
    env.reset(seed=0)
    zeros = np.zeros((2, 4), dtype=np.float32)
    for bad, words in [
        (np.full((2, 4), -0.1), ("principal_0", "agent_0", "limited liability")),
        (np.full((2, 4), np.nan), ("principal_0", "agent_0")),
        (np.full((2, 4), 11.0), ("principal_0", "[0, 10.0]")),
        (np.zeros((2, 5)), ("principal_0", "shape")),
        (np.array([["a"] * 4] * 2), ("principal_0", "dtype")),
    ]:
        with pytest.raises(ValueError) as err:
            env.step({"principal_0": bad, "agent_0": 0, "agent_1": 0})
        assert all(w in str(err.value) for w in words), str(err.value)
    env.step({"principal_0": zeros, "agent_0": 0, "agent_1": 0})
    for actions, words in [
        ({"agent_0": 4, "agent_1": 0}, ("agent_0", "out of range", "[0, 3]")),
        ({"agent_0": 0, "agent_1": 1.5}, ("agent_1", "not an integer")),
        ({"agent_0": 0}, ("agent_1", "no action")),
        ({"agent_0": 0, "agent_1": 0, "principal_0": np.full((2, 4), -1.0)}, ("principal_0", "limited liability")),
        ({"agent_0": 0, "agent_1": 0, "agent_2": 0}, ("unknown player", "agent_2", "principal_0")),
    ]:
        with pytest.raises(ValueError) as err:
            env.step(actions)
        assert all(w in str(err.value) for w in words), str(err.value)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"preset": "nope"}, "unknown Coin Game preset"),
        ({"gridsize": 5}, "unknown Coin Game argument"),
        ({"grid_size": 1}, "grid_size"),
        ({"grid_size": 2.5}, r"grid_size must be an integer in \[2, inf\)"),
        ({"n_agents": 1}, "n_agents"),
        ({"n_agents": 2.7}, r"n_agents must be an integer"),
        ({"horizon": 0}, "horizon"),
        ({"inner_episode_length": 1.5}, "inner_episode_length"),
        ({"tie_rule": "red"}, "tie_rule"),
        ({"coins": 2}, "coins"),
        ({"stay_action": 1}, "stay_action must be True or False"),
        ({"n_agents": 9}, "free cell"),
        ({"reward_sharing": 1.5}, "reward_sharing"),
        ({"owner_penalty": float("inf")}, "owner_penalty"),
        ({"own_coin_reward": float("nan")}, "own_coin_reward"),
        ({"other_coin_reward": "1"}, "other_coin_reward"),
        ({"welfare_weight": float("nan")}, "welfare_weight"),
        ({"payment_cap": 0.0}, "payment_cap"),
        ({"principal": "yes"}, "principal must be True or False"),
    ],
)
def test_bad_arguments_raise(kwargs, words):
    with pytest.raises(ValueError, match=words):
        contract_envs.make("parallel", ENV_ID, **{"preset": "parl_3x3", **kwargs})


# --------------------------------------------------------------------------- rendering
def test_render_rgb_and_ansi():
    env = contract_envs.make("parallel", ENV_ID, preset="parl_3x3", render_mode="rgb_array")
    env.reset(seed=1)
    frame = env.render()
    assert frame.ndim == 3 and frame.shape[0] >= 96 and frame.shape[1] > 96 and frame.dtype == np.uint8  # board + panel
    state = env.machine.state
    r, c = divmod(int(state.agent_cell[0, 0]), 3)
    if state.agent_cell[0, 0] != state.agent_cell[0, 1]:
        np.testing.assert_array_equal(frame[r * 32 + 8, c * 32 + 8], _palette(2)[0])
    rc, cc = divmod(int(state.coin_cell[0, 0]), 3)
    np.testing.assert_array_equal(frame[rc * 32 + 16, cc * 32 + 16], _palette(2)[state.coin_colour[0, 0]])
    text = contract_envs.make("parallel", ENV_ID, preset="parl_3x3", render_mode="ansi")
    text.reset(seed=1)
    out = text.render()
    assert "0" in out and "1" in out and "$" in out and "coming stage: offer" in out
    offer = np.zeros((2, 4), np.float32)
    offer[1, UP] = 2.5
    text.step({"principal_0": offer})
    assert "agent_1 [0.  0.  0.  2.5]" in text.render()


# --------------------------------------------------------------------------- default agent policy
@pytest.mark.parametrize("view, layout", [("swap", "chw"), ("egocentric", "hwc"), ("shared", "flat")])
def test_selfish_agent_chases_coins_and_follows_payments(view, layout):
    policy = SelfishCoinAgent(coin_game_rules("parl_3x3", obs_view=view, obs_layout=layout))
    for offer_left, expected in ((0.0, RIGHT), (0.5, LEFT)):
        vec = contract_envs.vector.make(ENV_ID, 1, seed=0, preset="parl_3x3", obs_view=view, obs_layout=layout)
        vec.state.agent_cell[:] = [4, 0]  # agent_0 at (1, 1), agent_1 at (0, 0)
        vec.state.coin_cell[:] = [5]  # a blue coin right of agent_0
        vec.state.coin_colour[:] = [1]
        vec.state.clear_cache()
        offer = np.zeros((1, 2, 4), np.float32)
        offer[0, 0, LEFT] = offer_left
        obs, *_ = vec.step({"principal_0": offer})
        one = {k: v[0] for k, v in obs["agent_0"].items()}
        assert policy("agent_0", one) == expected  # selfish: the other's coin (+0.2), unless paid to move away


# --------------------------------------------------------------------------- role views
def test_agents_only_view_vectorises_with_supersuit():
    import supersuit as ss

    par = AgentsOnlyParallelEnv(ENV_ID, principal_policy=None, preset="parl_3x3", principal=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parallel_api_test(par, num_cycles=60)
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(par), 3, num_cpus=0, base_class="gymnasium")
    obs, _ = venv.reset(seed=0)
    assert obs.shape == (6, 4, 3, 3) and obs.dtype == np.uint8
    rng = np.random.default_rng(0)
    total, truncated_at = np.zeros(6), []
    for t in range(1, 46):  # crosses the 20-round episode boundary: auto-reset inside SuperSuit
        obs, rewards, terms, truncs, _ = venv.step(rng.integers(0, 4, 6))
        total += rewards
        assert not terms.any()
        if truncs.any():
            assert truncs.all()
            truncated_at.append(t)
    assert obs.shape == (6, 4, 3, 3) and truncated_at == [20, 40]
    assert total.sum() > 0  # random agents do pick up coins


def test_agents_only_view_with_principal_policy_pays_the_agents():
    import supersuit as ss

    def pay_for_right(principal_obs):
        offer = np.zeros((2, 4), np.float32)
        offer[:, RIGHT] = 1.0
        return offer

    par = AgentsOnlyParallelEnv(ENV_ID, principal_policy=pay_for_right, preset="parl_3x3")
    venv = ss.concat_vec_envs_v1(ss.pettingzoo_env_to_vec_env_v1(par), 2, num_cpus=0, base_class="gymnasium")
    obs, _ = venv.reset(seed=0)
    assert obs["grid"].shape == (4, 4, 3, 3)
    np.testing.assert_array_equal(obs["contract"][:, RIGHT], 1.0)
    _, rewards, *_ = venv.step(np.full(4, RIGHT))
    assert np.all(rewards >= 1.0)
    _, rewards, *_ = venv.step(np.full(4, LEFT))
    assert np.all(rewards < 1.0)


@pytest.mark.parametrize("preset", ["parl", "jaxmarl"])
def test_principal_gym_view_passes_check_env(preset):
    env = gymnasium.make("contract_envs/CoinGamePrincipal-v1", preset=preset)
    check_env(env.unwrapped)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    n_actions = env.action_space.shape[1]
    obs, reward, term, trunc, info = env.step(np.zeros((2, n_actions), np.float32))
    assert info["payment"] == 0.0 and reward == pytest.approx(10.0 * info["welfare"])
    offer = np.zeros((2, n_actions), np.float32)
    offer[:, UP] = 3.0  # more than any coin is worth: the selfish agents both go up and are paid
    _, reward, *_, info = env.step(offer)
    assert info["payment"] == 6.0 and reward == pytest.approx(10.0 * info["welfare"] - 6.0)
    np.testing.assert_array_equal(info["outcomes"], [UP, UP])


def test_role_views_report_ledger_info_keys_from_reset():
    par = AgentsOnlyParallelEnv(ENV_ID, principal_policy=None, preset="parl_3x3")
    _, infos = par.reset(seed=0)
    _, _, _, _, step_infos = par.step({a: 0 for a in par.agents})
    assert infos["agent_0"].keys() == step_infos["agent_0"].keys() and "episode_utility" in infos["agent_0"]
    gym_env = gymnasium.make("contract_envs/CoinGamePrincipal-v1", preset="parl_3x3")
    _, info = gym_env.reset(seed=0)
    *_, step_info = gym_env.step(np.zeros((2, 4), np.float32))
    assert info.keys() == step_info.keys() and "welfare" in info


def test_gymnasium_registration_and_custom_agent_policy():
    spec = gymnasium.spec("contract_envs/CoinGamePrincipal-v1")
    assert spec.entry_point == "contract_envs.adapters.views:PrincipalGymEnv"
    always_up = {"agent_0": lambda obs: UP, "agent_1": lambda obs: UP}
    env = gymnasium.make("contract_envs/CoinGamePrincipal-v1", agent_policy=always_up, preset="parl_3x3")
    env.reset(seed=0)
    state = env.unwrapped.machine.state
    before = state.agent_cell.copy()
    env.step(np.zeros((2, 4), np.float32))
    g = env.unwrapped.machine.game.grid_size
    np.testing.assert_array_equal(env.unwrapped.machine.state.agent_cell, (before - g) % (g * g))


def test_negative_and_numpy_actions():
    env = contract_envs.make("parallel", ENV_ID, preset="parl_3x3", principal=False)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="agent_0.*out of range"):
        env.step({"agent_0": -1, "agent_1": 0})
    with pytest.raises(ValueError, match="agent_1.*out of range"):
        env.step({"agent_0": np.int64(0), "agent_1": np.array(7)})
    with pytest.raises(ValueError, match="agent_0.*not an integer"):
        env.step({"agent_0": True, "agent_1": 0})  # a bool is not an action
    env.step({"agent_0": np.int32(1), "agent_1": np.array([2])})  # numpy scalars and 1-element arrays work


def test_principal_observation_state_and_plain_game_agree():
    with_principal = contract_envs.vector.make(ENV_ID, 3, seed=5, preset="rllib")
    plain = contract_envs.vector.make(ENV_ID, 3, seed=5, preset="rllib", principal=False)
    np.testing.assert_array_equal(
        with_principal.game.observe_principal(with_principal.state), plain.game.observe_principal(plain.state)
    )
    hwc = with_principal.game.observe_principal(with_principal.state)  # rllib: (G, G, 2N)
    state = with_principal.global_state()
    assert state.dtype == np.float32 and state.shape == (3, 4 * 9 + 2 * 4 + 1)
    np.testing.assert_array_equal(state[:, :36], np.moveaxis(hwc, -1, 1).reshape(3, -1))
    assert with_principal.game.state_space.contains(state[0])


def test_reward_sharing_without_principal():
    env = contract_envs.vector.make(ENV_ID, 64, seed=1, preset="rllib", principal=False, reward_sharing=0.4)
    rng = np.random.default_rng(0)
    seen = False
    for _ in range(30):
        _, rewards, _, _, infos = env.step({a: rng.integers(0, 4, 64) for a in env.agents})
        own = np.stack([infos[a]["own_reward"] for a in env.agents], axis=1)
        shared = 0.6 * own + 0.4 * own.mean(axis=1, keepdims=True)
        np.testing.assert_allclose(np.stack([rewards[a] for a in env.agents], axis=1), shared, atol=1e-12)
        seen |= bool((own[:, 0] != own[:, 1]).any())
    assert seen and "principal_0" not in rewards


def test_docstring_preset_table_matches_presets():
    import contract_envs.games.coin_game as module

    rows = [line for line in module.__doc__.splitlines() if line.startswith("| `") and line.count("|") == 7]
    table = {}
    for line in rows:
        cells = [c.strip().strip("`").strip('"') for c in line.strip("|").split("|")]
        name = cells[0].split("`")[0]
        if name in coin_game_rules().__dataclass_fields__:
            table[name] = cells[1:]
    assert set(table) == set(coin_game_rules().__dataclass_fields__)
    for j, preset in enumerate(["parl", "parl_3x3", "rllib", "lola", "jaxmarl"]):
        for name, values in table.items():
            assert values[j] == str(PRESETS[preset][name]).strip('"'), (preset, name)


def test_native_aec_turns_visit_only_players_whose_move_counts():
    aec = pettingzoo.make("aec", ENV_ID, preset="parl_3x3")
    aec.reset(seed=0)
    assert aec.agent_selection == "principal_0"
    offer = np.zeros((2, 4), np.float32)
    offer[0, UP] = 1.5
    aec.step(offer)
    assert aec.agent_selection == "agent_0"
    np.testing.assert_array_equal(aec.observe("agent_0")["contract"], offer[0])  # the offer is seen at once
    with pytest.raises(ValueError, match="agent_0.*out of range"):
        aec.step(9)  # rejected at this turn; the turn stays agent_0's
    assert aec.agent_selection == "agent_0"
    aec.step(UP)
    aec.step(LEFT)
    assert aec.agent_selection == "principal_0"
    assert aec.rewards["agent_0"] == pytest.approx(1.5 + aec.infos["agent_0"]["own_reward"])
    assert contract_envs.make("aec", ENV_ID).possible_agents == ["principal_0", "agent_0", "agent_1"]
