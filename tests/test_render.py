"""rgb_array frames: every game draws one, of a fixed shape, and what it draws is the state, the offer and the pay.

Text in a frame is found by matching the exact pixels of the bitmap font in the colour it is drawn in, so a test
that looks for "paid 0.35" in green fails if the frame shows another amount, another colour or nothing.
"""

from __future__ import annotations

import ast

import numpy as np
import pytest

import contract_envs
from contract_envs.games import _draw
from contract_envs.games.coin_game import _palette
from tests.battery import random_actions

ENV_IDS = contract_envs.env_ids()


def shows(frame: np.ndarray, text: str, colour) -> bool:
    """Whether ``frame`` shows exactly ``text`` in ``colour`` (scale 1, not bold): the glyphs' pixels, and no other
    pixel of that colour in the text's cells or in one character cell on either side (no longer text around it)."""
    pad = _draw.GLYPH_WIDTH
    canvas = _draw.Canvas(_draw.GLYPH_HEIGHT, _draw.text_width(text) + 2 * pad, background=(0, 0, 0))
    canvas.text(0, pad, text, (255, 255, 255))
    template = canvas.pixels[..., 0] > 0
    mask = np.zeros((frame.shape[0], frame.shape[1] + 2 * pad), dtype=bool)
    mask[:, pad:-pad] = np.all(frame == np.array(colour, dtype=np.uint8), axis=-1)
    dy, dx = np.argwhere(template)[0]
    h, w = template.shape
    for y, x in np.argwhere(mask):  # candidates: the template's first lit pixel on a pixel of the colour
        y0, x0 = y - dy, x - dx
        if 0 <= y0 and y0 + h <= mask.shape[0] and 0 <= x0 and x0 + w <= mask.shape[1]:
            if np.array_equal(mask[y0 : y0 + h, x0 : x0 + w], template):
                return True
    return False


def test_shows_finds_text_only_where_it_is_drawn():
    canvas = _draw.Canvas(40, 200)
    canvas.text(10, 20, "paid 0.35", _draw.MONEY)
    assert shows(canvas.pixels, "paid 0.35", _draw.MONEY)
    assert not shows(canvas.pixels, "paid 0.36", _draw.MONEY)
    assert not shows(canvas.pixels, "paid 0.35", _draw.OFFER)
    assert not shows(canvas.pixels, "paid 0", _draw.MONEY)  # a whole text, not the start of a longer one


# --------------------------------------------------------------------------- every game
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_every_game_draws_frames_of_one_shape_through_an_episode(env_id):
    env = contract_envs.make("parallel", env_id, render_mode="rgb_array")
    assert "rgb_array" in env.metadata["render_modes"]
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    frames = [env.render()]
    for _ in range(12):
        if not env.agents:
            env.reset()
        env.step(random_actions(env, rng))
        frames.append(env.render())
    shapes = {f.shape for f in frames}
    assert len(shapes) == 1, shapes
    frame = frames[0]
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and min(frame.shape[:2]) >= 96
    assert any(not np.array_equal(frames[0], f) for f in frames[1:])  # the picture moves


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_agents_only_view_renders_rgb_arrays(env_id):
    from contract_envs.views import AgentsOnlyParallelEnv

    env = AgentsOnlyParallelEnv(env_id, render_mode="rgb_array")  # no principal policy: zero offers
    env.reset(seed=0)
    frame = env.render()
    assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3


def test_draw_module_imports_numpy_only():
    tree = ast.parse(open(_draw.__file__).read())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= {"numpy", "__future__"}, imported


# --------------------------------------------------------------------------- what the frames show
def test_coin_game_frame_shows_agents_coins_offers_and_payments():
    env = contract_envs.make("parallel", "contract_envs/coin_game-v1", preset="parl_3x3", render_mode="rgb_array")
    env.reset(seed=1)
    state = env.machine.state
    p = 32
    frame = env.render()
    for i in range(2):
        r, c = divmod(int(state.agent_cell[0, i]), 3)
        if state.agent_cell[0, 0] != state.agent_cell[0, 1]:
            np.testing.assert_array_equal(frame[r * p + 6, c * p + 6], _palette(2)[i])
    offer = np.zeros((2, 4))
    offer[0, 1], offer[1, 3] = 0.35, 1.2  # agent_0: 0.35 for left; agent_1: 1.2 for up
    env.step({"principal_0": offer})
    on_table = env.render()
    assert shows(on_table, "0.35", _draw.OFFER) and shows(on_table, "1.20", _draw.OFFER)
    assert not shows(on_table, "paid 0.35", _draw.MONEY)
    env.step({"agent_0": 1, "agent_1": 0})  # agent_0 takes the paid move, agent_1 does not
    after = env.render()
    assert shows(after, "paid 0.35", _draw.MONEY)
    assert shows(after, "paid 0", _draw.MUTED)
    r, c = divmod(int(state.agent_cell[0, 0]), 3)
    if state.agent_cell[0, 0] != state.agent_cell[0, 1]:  # the agent's square moved with it
        np.testing.assert_array_equal(after[r * p + 6, c * p + 6], _palette(2)[0])


def test_principal_agent_mdp_frame_shows_state_contract_and_payment():
    from contract_envs.games.principal_agent_mdp import random_binary_tree

    spec = random_binary_tree(3, seed=0)
    env = contract_envs.make("parallel", "contract_envs/principal_agent_mdp-v1", spec=spec, render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"principal_0": np.array([[0.0, 0.42]])})
    frame = env.render()
    assert shows(frame, "contract offered at state 0 (agent acts next)", _draw.INK)
    assert shows(frame, "0.42", _draw.OFFER)
    env.step({"agent_0": 1})
    outcome = env.machine.state.last_outcome[0]
    s = int(env.machine.state.s[0])
    frame = env.render()
    paid = "0.42" if outcome == 1 else "0"
    assert shows(frame, f"last round at state 0: action 1 -> outcome {outcome}, paid {paid}", _draw.MONEY)
    assert s == 2 * 0 + 1 + outcome  # the tree's child of state 0 for that outcome, named in the frame's title
    assert env.machine.game.tree_layout()["parent"][s] == 0


def test_principal_agent_mdp_with_cycles_draws_without_a_tree():
    from contract_envs.games.principal_agent_mdp import random_mdp

    env = contract_envs.make(
        "parallel", "contract_envs/principal_agent_mdp-v1", spec=random_mdp(5, 3, 3), render_mode="rgb_array"
    )
    env.reset(seed=0)
    assert env.machine.game.tree_layout() is None
    env.step({"principal_0": np.array([[0.0, 0.3, 0.5]])})
    env.step({"agent_0": 2})
    o = int(env.machine.state.last_outcome[0])
    paid = ("0", "0.30", "0.50")[o]
    assert shows(env.render(), f"last round: action 2 -> outcome {o}, paid {paid}", _draw.MONEY)


def test_escape_room_frame_shows_the_door_and_what_each_agent_was_paid():
    env = contract_envs.make("parallel", "contract_envs/escape_room-v1", render_mode="rgb_array")
    env.reset(seed=0)
    assert shows(env.render(), "designer's schedule (none yet): pays an agent for where it moved", _draw.INK)
    moves = {f"agent_{i}": (0 if i < 2 else 2) for i in range(5)}  # two at the lever, three to the door
    env.step({"principal_0": np.array([1.1, 0.0, 0.0]), **moves})
    frame = env.render()
    assert shows(frame, "+1.10", _draw.MONEY)
    assert shows(frame, "1.10", _draw.OFFER)


def test_prisoners_dilemma_frame_shows_joint_action_and_payments():
    env = contract_envs.make("parallel", "contract_envs/prisoners_dilemma-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"principal_0": np.array([1.5, 0.2]), "agent_0": 0, "agent_1": 1})
    frame = env.render()
    assert shows(frame, "agent_0: cooperate", _draw.colour_of(0))
    assert shows(frame, "agent_1: defect", _draw.colour_of(1))
    assert shows(frame, "paid 1.50", _draw.MONEY) and shows(frame, "paid 0.20", _draw.MONEY)


def test_cleanup_frame_shows_schedule_and_pay_per_outcome():
    env = contract_envs.make("parallel", "contract_envs/cleanup-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"principal_0": np.array([1.1, 0.0, 0.2]), "agent_0": 5, "agent_1": 4})  # clean; no-op
    frame = env.render()
    state = env.machine.state
    assert state.last_clean[0, 0] and not state.last_clean[0, 1]
    assert shows(frame, "cleaned: paid 1.10", _draw.MONEY)
    if state.last_apples[0, 1] == 0:
        assert shows(frame, "other: paid 0.20", _draw.MONEY)


def test_tax_economy_frame_shows_rates_labour_and_coin():
    env = contract_envs.make("parallel", "contract_envs/tax_economy-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"principal_0": np.array([0.75]), **{f"agent_{i}": 5 + i for i in range(4)}})
    frame = env.render()
    state = env.machine.state
    assert shows(frame, "0.75", _draw.PRINCIPAL_COLOUR)
    for i in range(4):
        assert shows(frame, f"{5 + i} (earned {_draw.fmt(state.last_income[0, i])})", _draw.colour_of(i))
        assert shows(frame, f"{state.coin[0, i]:.1f}", _draw.MONEY)


def test_gather_trade_build_frame_shows_rates_inventories_and_the_last_collection():
    env = contract_envs.make(
        "parallel",
        "contract_envs/gather_trade_build-v0",
        preset="small",
        resource_regen_prob=0.0,
        render_mode="rgb_array",
    )
    env.reset(seed=0)
    state = env.machine.state
    state.inventory[0, 0, 0] = 30.0  # agent_0 earns 20 coin this period: tax 10 at the flat 0.5 rates
    state.clear_cache()
    assert shows(env.render(), "taxes: none collected yet (at the end of each period)", _draw.INK)
    for _ in range(env.machine.game.period):
        env.step({"principal_0": np.full(7, 0.5), **{f"agent_{i}": 0 for i in range(4)}})
    frame = env.render()
    assert shows(frame, "0.50", _draw.PRINCIPAL_COLOUR)
    assert shows(frame, "taxes at step 10: 10.00 collected, 2.50 back to each", _draw.INK)
    assert shows(frame, "agent_0 10.00", _draw.colour_of(0)) and shows(frame, "agent_1 0.00", _draw.colour_of(1))
    for i in range(4):
        stone, wood = (int(state.inventory[0, i, r]) for r in (1, 2))
        line = f"agent_{i}  coin {state.inventory[0, i, 0]:.1f}  stone {stone}  wood {wood}"
        assert shows(frame, f"{line}  labour {_draw.fmt(state.labour[0, i])}", _draw.INK)
    assert state.inventory[0, 0, 0] == 22.5


def test_tree_contracts_frame_shows_offers_on_the_table_and_transfers_paid():
    env = contract_envs.make("parallel", "contract_envs/tree_contracts-v1", instance="T1", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"node_0": {"action": 0, "recommendations": np.array([1]), "transfers": np.array([0.2])}})
    assert shows(env.render(), "a=1: 0.20", _draw.OFFER)
    env.step({"node_1": {"action": 1, "recommendations": np.array([1]), "transfers": np.array([0.5])}})
    assert shows(env.render(), "a=1: 0.50", _draw.OFFER)
    env.step({"node_0": 0, "node_1": 1, "node_2": 0})  # node_1 follows its recommendation, node_2 does not
    frame = env.render()
    assert shows(frame, "paid 0.20", _draw.MONEY)
    assert shows(frame, "paid 0", _draw.MUTED)


def test_contract_bandit_frame_shows_contract_choice_and_payment():
    env = contract_envs.make("parallel", "contract_envs/contract_bandit-v1", render_mode="rgb_array")
    env.reset(seed=0)
    env.step({"principal_0": np.array([[0.0, 0.0, 0.26, 0.0, 0.0]])})
    assert shows(env.render(), "+0.26", _draw.OFFER)
    env.step({"agent_0": 2})
    assert shows(env.render(), "last round: action 2 -> outcome 2, paid 0.26", _draw.MONEY)


# --------------------------------------------------------------------------- the drawing helpers
def test_font_and_number_format():
    glyph = _draw.glyphs()[ord("1") - 32]
    assert glyph.shape == (_draw.GLYPH_HEIGHT, _draw.GLYPH_WIDTH) and glyph[:, 5].sum() == 0 and glyph.sum() > 5
    assert [_draw.fmt(x) for x in (0.5, 2.0, -1e-9, 0.125)] == ["0.50", "2", "0", "0.12"]
    assert _draw.fmt(0.3, sign=True) == "+0.30" and _draw.fmt(-0.3, sign=True) == "-0.30"
    canvas = _draw.Canvas(20, 20)
    canvas.text(0, 0, "\u00e9", _draw.INK)  # not ASCII: drawn as "?"
    reference = _draw.Canvas(20, 20)
    reference.text(0, 0, "?", _draw.INK)
    np.testing.assert_array_equal(canvas.pixels, reference.pixels)
