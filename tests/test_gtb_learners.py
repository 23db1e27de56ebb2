"""The Gather-Trade-Build learners: shared-parameter PPO (fixed and dual-RL planners) and the meta-gradient designer.

CI-scale: the agents learn on the 7x7 map within seconds of training; the designer's differentiable economy
reproduces the rewards the environment paid; runs write the suite's metrics schema and reload their checkpoints."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "baselines" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


ppo = _load("ppo_shared")
mg = _load("metagrad_gtb")
SMALL = '{"preset": "small"}'
SCHEMA_KEYS = {"schema", "algorithm", "env_id", "env_kwargs", "seed", "args", "final", "history", "wall_clock_s"}
SCHEMA_KEYS |= {"versions", "eval"}


def test_shared_ppo_agents_learn_to_gather_and_build(tmp_path):
    args = ppo.Args(
        env_kwargs=SMALL,
        total_timesteps=9_600,
        num_envs=16,
        ent_coef=0.05,
        energy_warmup_episodes=200,
        num_eval_episodes=16,
        runs_dir=str(tmp_path),
        seed=3,
    )
    metrics = ppo.main(args)
    history = metrics["history"]
    first, last = history[0], np.mean([row["agent_return"] for row in history[-3:]])
    # a random policy walks about and pays labour; the trained agents earn from houses
    assert last > first["agent_return"] + 1.5, (first["agent_return"], last)
    assert np.mean([row["build_income"] for row in history[-3:]]) > 2 * first["build_income"] + 5.0
    assert set(metrics) == SCHEMA_KEYS and metrics["schema"] == "contract-envs/metrics/v1"
    assert metrics["eval"] is None and metrics["final"]["eval_equality_times_productivity"] > 0


def test_shared_ppo_runs_on_other_games_with_an_idle_principal(tmp_path):
    args = ppo.Args(
        env_id="contract_envs/prisoners_dilemma-v1",
        env_kwargs="{}",
        planner="zero",
        total_timesteps=2_000,
        num_envs=8,
        num_eval_episodes=4,
        runs_dir=str(tmp_path),
    )
    metrics = ppo.main(args)
    assert metrics["env_id"] == "contract_envs/prisoners_dilemma-v1" and np.isfinite(metrics["final"]["agent_return"])


def test_dual_rl_planner_learns_its_rates_and_checkpoints_reload(tmp_path):
    args = ppo.Args(
        env_kwargs=SMALL,
        planner="dual_rl",
        total_timesteps=2_880,
        num_envs=16,
        planner_learning_rate=3e-2,
        num_eval_episodes=8,
        runs_dir=str(tmp_path),
        save_model=True,
    )
    metrics = ppo.main(args)
    rates = [[row[f"planner_rate_{k}"] for k in range(7)] for row in metrics["history"]]
    assert not np.allclose(rates[0], rates[-1], atol=1e-3)  # the planner's policy moved
    folder = next(p for p in tmp_path.iterdir() if (p / "model.pt").exists())
    saved = torch.load(folder / "model.pt", weights_only=False)
    assert set(saved["state_dicts"]) == {"agent", "planner"} and saved["args"]["planner"] == "dual_rl"
    checkpoint = str(folder / "model.pt")
    evaluation = ppo.main(ppo.Args(eval_checkpoint=checkpoint, runs_dir=str(tmp_path), num_eval_episodes=8))
    assert evaluation["eval"]["checkpoint"] == str(folder / "model.pt") and evaluation["args"]["planner"] == "dual_rl"
    assert set(evaluation["eval"]["final"]) >= {"equality_times_productivity", "rate_0"}
    assert evaluation["final"]["eval_rate_0"] == evaluation["eval"]["final"]["rate_0"]


def test_the_designers_differentiable_economy_pays_what_the_environment_paid():
    args = mg.Args(env_kwargs='{"preset": "small", "resource_regen_prob": 0.05}', num_envs=16)
    economy = mg.Economy(args, 16, 0)
    agent = mg.Agent(economy.map_shape, economy.flat_dim, economy.game.n_actions)
    designer = mg.Designer(economy.designer_map_shape, economy.designer_flat_dim, 7, 0.5)  # rates near 0.62
    batch = economy.rollout(agent, designer, 0.5, "cpu", np.random.default_rng(0))
    assert batch["tax"].sum() > 10  # taxes were collected
    rates = mg.designer_rates(designer, batch, "cpu")
    rewards = mg.rewards_under(rates, batch, economy.game, 0.0)
    np.testing.assert_allclose(rewards.detach().numpy(), batch["reward"], atol=2e-6)
    # raising the rates moves coin from the richest to the others: the poorest agent's reward rises
    coin = batch["coin"][-1]
    poor, rich = np.argmin(coin, axis=1), np.argmax(coin, axis=1)
    total = rewards.sum(0)
    grad = torch.autograd.grad(total[np.arange(16), poor].sum() - total[np.arange(16), rich].sum(), rates)[0]
    assert grad.sum() > 0


def test_metagrad_designer_runs_end_to_end_and_writes_the_schema(tmp_path):
    args = mg.Args(env_kwargs=SMALL, total_timesteps=1_920, num_envs=16, num_eval_episodes=8, runs_dir=str(tmp_path))
    args.save_model = True
    metrics = mg.main(args)
    assert set(metrics) == SCHEMA_KEYS and metrics["algorithm"] == "metagrad_gtb"
    assert len(metrics["history"]) == 4 and metrics["history"][-1]["step"] == 1_920
    first, last = metrics["history"][0], metrics["history"][-1]
    assert any(first[f"rate_{k}"] != last[f"rate_{k}"] for k in range(7))  # the meta-gradient moved the rates
    folder = next(p for p in tmp_path.iterdir() if (p / "model.pt").exists())
    again = mg.main(mg.Args(eval_checkpoint=str(folder / "model.pt"), runs_dir=str(tmp_path), num_eval_episodes=8))
    assert again["eval"]["checkpoint"] == str(folder / "model.pt")
    with open(os.path.join(folder, "metrics.json")) as f:
        assert json.load(f)["eval"] is None


@pytest.mark.parametrize("planner", ["us_federal", "saez"])
def test_fixed_planners_plug_into_the_ppo_baseline(tmp_path, planner):
    args = ppo.Args(
        env_kwargs=SMALL, planner=planner, total_timesteps=960, num_envs=16, num_eval_episodes=8, runs_dir=str(tmp_path)
    )
    metrics = ppo.main(args)
    rates = [metrics["final"][f"eval_rate_{k}"] for k in range(7)]
    if planner == "us_federal":
        np.testing.assert_allclose(rates, [0.10, 0.12, 0.22, 0.24, 0.32, 0.35, 0.37], atol=1e-6)
    else:
        assert 0 <= min(rates) and max(rates) <= 1
