"""Properties every incentive-design environment shares: batched == single, conservation of money,
registration, clear errors on bad input."""

from __future__ import annotations

import numpy as np
import pytest

import contract_envs
import contract_envs.vector
from tests.incentive_helpers import (
    assert_tree_equal,
    batched_random_actions,
    check_ledger_identities,
    select_env,
    take_env,
)

CASES = [
    ("contract_envs/escape_room-v1", {}),
    ("contract_envs/escape_room-v1", {"incentives": "per_agent", "n_agents": 3, "min_at_lever": 2}),
    ("contract_envs/escape_room-v1", {"incentives": "peer", "n_agents": 3, "min_at_lever": 1}),
    ("contract_envs/prisoners_dilemma-v1", {}),
    ("contract_envs/prisoners_dilemma-v1", {"incentives": "peer", "keep_fraction": 0.4}),
    ("contract_envs/prisoners_dilemma-v1", {"incentives": "none", "keep_fraction": 0.5}),
    ("contract_envs/cleanup-v1", {"horizon": 12}),
    ("contract_envs/cleanup-v1", {"map_name": "10x10", "incentives": "per_agent", "horizon": 12}),
    ("contract_envs/tax_economy-v1", {}),
    ("contract_envs/tax_economy-v1", {"tax_model": "us_federal", "horizon": 12, "period_length": 4}),
]
IDS = [f"{env_id.split('/')[1]}-{i}" for i, (env_id, _) in enumerate(CASES)]


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_batched_env_b_equals_single_env_seeded_s_plus_b(env_id, kwargs):
    batch, seed, steps = 3, 11, 30
    vec = contract_envs.vector.make(env_id, batch, seed=seed, **kwargs)
    singles = [contract_envs.vector.make(env_id, 1, seed=seed + b, **kwargs) for b in range(batch)]
    rng = np.random.default_rng(0)
    for _ in range(steps):
        actions = batched_random_actions(vec, rng)
        out = vec.step(actions)
        for b, single in enumerate(singles):
            one = single.step(select_env(actions, b))
            names = ("obs", "rewards", "terms", "truncs", "infos")
            for part_batched, part_single, name in zip(out, one, names, strict=True):
                assert_tree_equal(take_env(part_batched, b), part_single, f"env {b} {name}")


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_money_is_conserved_under_random_play(env_id, kwargs):
    vec = contract_envs.vector.make(env_id, 16, seed=3, **kwargs)
    rng = np.random.default_rng(1)
    quasi_linear = "tax_economy" not in env_id
    for _ in range(25):
        _, rewards, _, _, infos = vec.step(batched_random_actions(vec, rng))
        check_ledger_identities(vec, infos, rewards, quasi_linear=quasi_linear)


@pytest.mark.parametrize("name", ["escape_room", "prisoners_dilemma", "cleanup", "tax_economy"])
def test_registered_for_both_apis(name):
    env_id = f"contract_envs/{name}-v1"
    assert env_id in contract_envs.env_ids()
    par = contract_envs.make("parallel", env_id)
    aec = contract_envs.make("aec", env_id)
    assert par.metadata["name"] == f"{name}_v1"
    par.reset(seed=0)
    aec.reset(seed=0)
    assert aec.agent_selection == par.possible_agents[0]
    assert str(par.render_mode) == "None"
    ansi = contract_envs.make("parallel", env_id, render_mode="ansi")
    ansi.reset(seed=0)
    assert name in ansi.render()


@pytest.mark.parametrize(
    "env_id", ["contract_envs/escape_room-v1", "contract_envs/prisoners_dilemma-v1", "contract_envs/cleanup-v1"]
)
def test_designer_schedule_errors_name_player_entry_and_range(env_id):
    env = contract_envs.make("parallel", env_id)
    env.reset(seed=0)
    shape = env.action_space("principal_0").shape
    agents = {a: 0 for a in env.possible_agents if a != "principal_0"}
    cap = float(env.action_space("principal_0").high.flat[0])
    too_big = np.full(shape, cap + 0.5, dtype=np.float32)
    with pytest.raises(ValueError, match=r"principal_0: schedule entry 0 .*is .*allowed range is \[0, "):
        env.step({**agents, "principal_0": too_big})
    with pytest.raises(ValueError, match=r"principal_0: schedule entry 0 .*is -1.0"):
        env.step({**agents, "principal_0": np.full(shape, -1.0)})
    with pytest.raises(ValueError, match="principal_0: schedule has shape"):
        env.step({**agents, "principal_0": np.zeros((7, 7))})
    with pytest.raises(ValueError, match=r"principal_0: no move given in stage 'act'; expected an array of shape"):
        env.step(agents)
    with pytest.raises(ValueError, match=r"agent_0: action 99 is out of range; allowed \[0, "):
        env.step({**agents, "agent_0": 99, "principal_0": np.zeros(shape)})
    with pytest.raises(ValueError, match=r"principal_0: schedule entry 0 .*is nan"):
        env.step({**agents, "principal_0": np.full(shape, np.nan)})
    # every rejected move left the episode as it was: a valid round still plays from the start
    _, _, _, _, infos = env.step({**agents, "principal_0": np.zeros(shape)})
    assert infos["agent_0"]["episode_own_reward"] == infos["agent_0"]["own_reward"]


@pytest.mark.parametrize(
    ("env_id", "kwargs", "message"),
    [
        ("contract_envs/escape_room-v1", {"min_at_lever": 6}, r"min_at_lever must be an integer in \[1, 5\]"),
        ("contract_envs/escape_room-v1", {"incentives": "bribes"}, "incentives must be one of"),
        ("contract_envs/escape_room-v1", {"incentive_cap": -1.0}, r"incentive_cap must be a finite real number in \(0"),
        ("contract_envs/escape_room-v1", {"incentives": "peer", "n_agents": 1, "min_at_lever": 1}, "n_agents >= 2"),
        ("contract_envs/escape_room-v1", {"n_agents": 2.7}, "n_agents must be an integer"),
        ("contract_envs/escape_room-v1", {"door_reward": float("nan")}, "door_reward must be a finite real"),
        ("contract_envs/prisoners_dilemma-v1", {"keep_fraction": 1.5}, "keep_fraction must be a finite real"),
        ("contract_envs/prisoners_dilemma-v1", {"payoffs": (1, 2, 3)}, "payoffs must be 4 finite numbers"),
        ("contract_envs/prisoners_dilemma-v1", {"payoffs": (1, 2, float("nan"), 3)}, "payoffs .* contains NaN"),
        ("contract_envs/prisoners_dilemma-v1", {"payoffs": (1, 2, 3, float("inf"))}, "payoffs .* contains NaN or inf"),
        ("contract_envs/prisoners_dilemma-v1", {"payoffs": ("a", 2, 3, 4)}, "payoffs .* must be an array of finite"),
        ("contract_envs/cleanup-v1", {"map_name": "15x15"}, "map_name must be one of"),
        ("contract_envs/cleanup-v1", {"n_agents": 3}, r"n_agents .* must be an integer in \[1, 2\]"),
        ("contract_envs/cleanup-v1", {"incentives": "peer"}, "incentives must be one of"),
        ("contract_envs/cleanup-v1", {"depletion_threshold": 0.0}, "depletion_threshold must be a finite real"),
        ("contract_envs/cleanup-v1", {"cleaning_penalty": float("nan")}, "cleaning_penalty must be a finite real"),
        ("contract_envs/tax_economy-v1", {"tax_model": "saez"}, "tax_model must be one of"),
        ("contract_envs/tax_economy-v1", {"skills": (1.0, -2.0)}, "skills must be"),
        ("contract_envs/tax_economy-v1", {"skills": (1.0, float("nan"))}, "skills contains NaN or inf"),
        ("contract_envs/tax_economy-v1", {"isoelastic_eta": 1.0}, "isoelastic_eta must be a finite real"),
        ("contract_envs/tax_economy-v1", {"max_labour": 2.5}, "max_labour must be an integer"),
    ],
)
def test_bad_constructor_arguments_raise_clear_errors(env_id, kwargs, message):
    with pytest.raises(ValueError, match=message):
        contract_envs.make("parallel", env_id, **kwargs)


@pytest.mark.parametrize(
    "env_id", ["contract_envs/escape_room-v1", "contract_envs/prisoners_dilemma-v1", "contract_envs/cleanup-v1"]
)
@pytest.mark.parametrize("alpha", [0.0, 0.5, 2.0])
def test_incentive_cost_weighs_only_the_designers_reward(env_id, alpha):
    """Designer reward = welfare - alpha * paid; the ledger keeps the money actually paid."""
    vec = contract_envs.vector.make(env_id, 8, seed=0, incentive_cost=alpha)
    rng = np.random.default_rng(2)
    for _ in range(6):
        _, rewards, _, _, infos = vec.step(batched_random_actions(vec, rng))
        designer = infos["principal_0"]
        np.testing.assert_allclose(
            rewards["principal_0"], designer["welfare"] - alpha * designer["payment"], atol=1e-12
        )
        np.testing.assert_allclose(designer["utility"], designer["welfare"] - designer["payment"], atol=1e-12)
        check_ledger_identities(vec, infos, rewards)
    with pytest.raises(ValueError, match=r"incentive_cost must be a finite real number in \[0.0, inf\)"):
        contract_envs.vector.make(env_id, 1, incentive_cost=-1.0)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES, ids=IDS)
def test_episode_totals_restart_with_every_auto_reset(env_id, kwargs):
    """``episode_*`` infos are the sums over the current episode, also when every environment of the batch ends in
    the same step (horizon truncation) and the whole batch is auto-reset at once."""
    vec = contract_envs.vector.make(env_id, 2, seed=5, **kwargs)
    rng = np.random.default_rng(4)
    running = {p: np.zeros(2) for p in vec.possible_agents}
    ends = 0
    for _ in range(2 * vec.game.horizon + 1):
        _, _, terms, truncs, infos = vec.step(batched_random_actions(vec, rng))
        for p in vec.possible_agents:
            running[p] += infos[p]["own_reward"]
            np.testing.assert_allclose(infos[p]["episode_own_reward"], running[p], atol=1e-9)
        done = terms[vec.agents[0]] | truncs[vec.agents[0]]
        ends += done.all()
        for p in vec.possible_agents:
            running[p][done] = 0.0
    assert ends >= 1  # the batch did end all together at least once


# arguments whose default is None (the generic constructor fuzz of tests/battery.py only reaches numeric defaults)
NONE_DEFAULT_ARGUMENTS = [
    ("contract_envs/cleanup-v1", "n_agents", int),
    ("contract_envs/cleanup-v1", "view_size", int),
    ("contract_envs/cleanup-v1", "apple_respawn_prob", float),
    ("contract_envs/cleanup-v1", "waste_spawn_prob", float),
    ("contract_envs/cleanup-v1", "depletion_threshold", float),
    ("contract_envs/cleanup-v1", "restoration_threshold", float),
    ("contract_envs/tax_economy-v1", "horizon", int),
    ("contract_envs/tax_economy-v1", "period_length", int),
]


@pytest.mark.parametrize(("env_id", "name", "kind"), NONE_DEFAULT_ARGUMENTS, ids=[a[1] for a in NONE_DEFAULT_ARGUMENTS])
def test_arguments_defaulting_to_none_reject_nan_inf_strings_and_fractions(env_id, name, kind):
    bad = [float("nan"), float("inf"), float("-inf"), "1"] + ([1.5] if kind is int else [])
    for value in bad:
        with pytest.raises(ValueError, match=name):
            contract_envs.vector.make(env_id, 1, **{name: value})
