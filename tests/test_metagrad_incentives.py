"""Tests of baselines/metagrad_incentives.py: end to end, the meta-gradient, rewards, bounds and cost accounting."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from contract_envs import solvers

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "baselines" / "metagrad_incentives.py"


def _load_script():
    spec = importlib.util.spec_from_file_location("metagrad_incentives", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


mg = _load_script()


# ----------------------------------------------------------------------------- end to end
TINY_RUNS = {
    "escape_room_5_2": [
        "--env-id",
        "contract_envs/escape_room-v1",
        "--env-kwargs",
        '{"n_agents": 5, "min_at_lever": 2}',
        "--save-model",
    ],
    "escape_room_3_2_no_designer": [
        "--env-id",
        "contract_envs/escape_room-v1",
        "--env-kwargs",
        '{"n_agents": 3, "min_at_lever": 2}',
        "--designer",
        "none",
    ],
    "prisoners_dilemma": ["--env-id", "contract_envs/prisoners_dilemma-v1"],
    "prisoners_dilemma_adam_clipped_linear": [
        "--env-id",
        "contract_envs/prisoners_dilemma-v1",
        "--agent-optimizer",
        "adam",
        "--incentive-head",
        "clipped_linear",
        "--designer-hidden",
    ],
    "escape_room_3_2_annealed_steps": [
        "--env-id",
        "contract_envs/escape_room-v1",
        "--env-kwargs",
        '{"n_agents": 3, "min_at_lever": 2}',
        "--designer-lr-final",
        "1e-4",
        "--cost-lr-final",
        "1e-5",
        "--incentive-head",
        "clipped_linear",
    ],
    "taxlite": ["--env-id", "contract_envs/tax_economy-v1"],
    "taxlite_announced_sampled_rates": [
        "--env-id",
        "contract_envs/tax_economy-v1",
        "--announce-rates",
        "--designer-noise",
        "0.5",
        "--designer-noise-final",
        "0.1",
        "--no-pathwise-designer-gradient",
    ],
    "tax_brackets": [
        "--env-id",
        "contract_envs/tax_economy-v1",
        "--env-kwargs",
        '{"tax_model": "us_federal", "horizon": 20, "period_length": 10}',
    ],
    "cleanup": ["--env-id", "contract_envs/cleanup-v1", "--env-kwargs", '{"horizon": 8, "incentive_cost": 0.0}'],
}


def _run_script(tmp_path: Path, *flags: str) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--runs-dir", str(tmp_path / "runs"), *flags]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    run_dir = json.loads(result.stdout.strip().splitlines()[-1])["run_dir"]
    return json.loads((Path(run_dir) / "metrics.json").read_text())


TINY = ["--num-iterations", "3", "--num-envs", "4", "--num-eval-episodes", "8", "--log-every", "1"]


@pytest.mark.parametrize("name", sorted(TINY_RUNS))
def test_script_end_to_end(name, tmp_path):
    m = _run_script(tmp_path, *TINY, "--agent-hidden", "8", "--designer-hidden", "8", *TINY_RUNS[name])
    assert [h["step"] for h in m["history"]] == [0, 1, 2]
    final = m["final"]
    if "--save-model" in TINY_RUNS[name]:
        assert list((tmp_path / "runs").glob("metagrad_incentives__escape_room__1__*/model.pt"))
    if "--designer" in TINY_RUNS[name]:  # no designer: nothing is offered, nothing is paid
        assert final["incentives_paid"] == 0.0 and final["schedule_at_start_lever"] == 0.0
        assert final["designer_return"] == final["welfare"]
    if name == "taxlite":  # the exact equilibrium at the learned rate, against the solver's table where on the grid
        rate = final["tax_rate_0"]
        eq = solvers.taxlite_equilibria(rate)
        prod, equal = solvers.productivity_and_equality(solvers.taxlite_coin(eq, rate))
        assert final["equilibrium_eq_x_prod_at_rate"] == pytest.approx(float((prod * equal).max()))
        assert final["eq_x_prod_fraction_of_grid_optimum"] == pytest.approx(final["equality_times_productivity"] / 93.0)
        # the reference is the optimum over continuous rates (96.007 at t = 0.7429), not the 0.05 grid's 93.0
        assert final["eq_x_prod_fraction_of_optimum"] == pytest.approx(
            final["equality_times_productivity"] / 96.0067, rel=1e-5
        )
    if name.startswith("prisoners_dilemma"):
        # the schedule per state read off the designer (exact tables) equals what it paid in the states visited
        for state in ("CC", "CD", "DC", "DD", "start"):
            if f"tau_gap_visited_{state}" in final:
                assert final[f"tau_gap_visited_{state}"] == pytest.approx(final[f"schedule_gap_{state}"], abs=1e-6)
        assert "tau_gap_visited_start" in final
    if name.endswith("annealed_steps"):  # linear decay, reaching the final step sizes at the last iteration
        lrs = [(h["designer_lr"], h["cost_lr"]) for h in m["history"]]
        assert lrs[-1] == pytest.approx((1e-4, 1e-5))
        assert lrs[0][0] > lrs[1][0] > lrs[2][0] and lrs[0][1] > lrs[1][1] > lrs[2][1]


def test_untaxed_learners_are_scored_against_the_exact_untaxed_equilibrium(tmp_path):
    """Without a designer the rate is 0; the exact equilibrium there is (3, 10, 10, 10) with eq x prod 59.33."""
    m = _run_script(tmp_path, *TINY, "--env-id", "contract_envs/tax_economy-v1", "--designer", "none")
    assert m["final"]["tax_rate_0"] == 0.0
    assert m["final"]["equilibrium_eq_x_prod_at_rate"] == pytest.approx(59.3333, abs=1e-3)
    assert m["final"]["rate_error"] == pytest.approx(0.75)


ER32 = {"n_agents": 3, "min_at_lever": 2}
# the reproduction's Escape Room hyperparameters (benchmarks/reproduce_incentives.py), at a CI budget
ER_CI = dict(
    env_id="contract_envs/escape_room-v1",
    env_kwargs=json.dumps(ER32),
    num_iterations=300,
    num_envs=128,
    agent_optimizer="adam",
    agent_lr=3e-3,
    designer_hidden=(),
    incentive_head="clipped_linear",
    designer_lr=1e-2,
    cost_lr=1e-3,
    entropy_coef=0.2,
    designer_lr_final=1e-4,
    cost_lr_final=1e-5,
    num_eval_episodes=128,
)


def test_metagrad_designer_opens_the_door_in_er_3_2(tmp_path):
    """Learning, at CI scale (seed 1, 300 iterations): the designer's lever incentive gets the same learners to the
    welfare optimum, which they never reach without it; the final schedule makes the optimum a stage equilibrium."""
    designed = mg.main(mg.Args(**ER_CI, seed=1, runs_dir=str(tmp_path)))["final"]
    alone = mg.main(mg.Args(**ER_CI, seed=1, designer="none", runs_dir=str(tmp_path)))["final"]
    assert designed["door_opened"] >= 0.95 and designed["welfare_fraction_of_optimum"] >= 0.85
    assert designed["stage_schedule_sustains_optimum"] == 1.0 and designed["schedule_at_start_lever"] > 1.0
    assert designed["greedy_start_profile_optimal"] == 1.0
    assert alone["door_opened"] == 0.0 and alone["welfare"] < 0.0


def test_exact_values_of_the_learned_policies_match_the_environment():
    """The state tables fed to the exact solver (policies and schedule per decision state) describe what the
    agents and the designer do in the environment: the exact value of the joint policy equals the Monte Carlo
    mean of the agents' discounted incentivised returns."""
    gen = torch.Generator().manual_seed(0)
    problem = mg.Problem("contract_envs/escape_room-v1", 20_000, 5, ER32)
    params = mg.init_agent_params(3, problem.agent_obs_dim, (16,), 3, gen)
    with torch.no_grad():
        params[-2].normal_(0.0, 1.0)  # non-uniform, state-dependent policies
    designer = mg.IncentiveFunction(problem.designer_obs_dim, problem.schedule_shape, problem.cap, (16,))
    with torch.no_grad():
        designer.net[-1].weight.normal_(0.0, 1.0)  # a state-dependent schedule
    probs, schedule = mg.decision_state_tables(problem, params, designer)
    check = solvers.escape_room_best_responses(3, 2, probs, schedule, horizon=problem.horizon, discount=0.9)
    batch = problem.rollout([p.detach() for p in params], designer, gen)
    returns = mg.discounted_returns(torch.as_tensor(batch["agent_reward"]), torch.as_tensor(batch["alive"]), 0.9)[0]
    se = returns.std(0).numpy() / np.sqrt(returns.shape[0])
    assert np.all(np.abs(returns.mean(0).numpy() - check.values) < 4 * se + 1e-9), (returns.mean(0), check.values)


def test_checkpoint_round_trip_reproduces_the_evaluation(tmp_path):
    """--save-model then --eval-checkpoint: the reloaded model's evaluation equals the training run's."""
    trained = _run_script(tmp_path, *TINY, *TINY_RUNS["escape_room_5_2"], "--seed", "3")
    (checkpoint,) = (tmp_path / "runs").glob("*__3__*/model.pt")
    again = _run_script(tmp_path, "--eval-checkpoint", str(checkpoint), "--num-eval-episodes", "8")
    assert again["eval"]["checkpoint"] == str(checkpoint) and again["args"]["seed"] == 3
    for key, value in again["eval"]["final"].items():
        assert value == pytest.approx(trained["final"][key], abs=1e-9), key


def test_bad_arguments_are_rejected():
    with pytest.raises(ValueError, match="--designer"):
        mg.main(mg.Args(designer="oracle", num_iterations=1))
    with pytest.raises(ValueError, match="no designer"):
        mg.Problem("contract_envs/escape_room-v1", 2, 0, {"incentives": "none"})


# ----------------------------------------------------------------------------- meta-gradient
def _one_step_pd(designer, params, agent_lr, entropy_coef):
    """Exact enumeration of the one-step PD: the script's losses with the joint-action probabilities as weights."""
    payoff = torch.tensor([[-1.0, -3.0], [0.0, -2.0]], dtype=torch.float64)  # [a_self, a_other]
    joint = torch.tensor([[a, b] for a in (0, 1) for b in (0, 1)])  # [4, 2]
    env_reward = torch.stack([payoff[joint[:, 0], joint[:, 1]], payoff[joint[:, 1], joint[:, 0]]], 1)
    obs = torch.zeros(1, 4, 2, 5, dtype=torch.float64)
    obs[..., 4] = 1.0  # LOLA's start state
    designer_obs = torch.zeros(1, 5, dtype=torch.float64)
    designer_obs[0, 4] = 1.0
    actions, mask = joint.unsqueeze(0), torch.ones(1, 4, dtype=torch.float64)

    def joint_probs(p):
        probs = torch.softmax(mg.agent_logits(p, obs[0, 0].unsqueeze(0))[0], -1)  # [2 agents, 2 actions]
        return probs[0, joint[:, 0]] * probs[1, joint[:, 1]]

    schedule = designer(designer_obs)[0]  # (tau_C, tau_D)
    rewards = (env_reward + schedule[joint]).unsqueeze(0)
    loss = mg.agent_pg_loss(params, obs, actions, mask, joint_probs(params).detach(), rewards, 0.99, entropy_coef)
    params_hat = mg.inner_update(params, loss, agent_lr, create_graph=True)
    welfare = env_reward.sum(1).unsqueeze(0)
    meta_loss = mg.designer_pg_loss(params_hat, obs, actions, mask, joint_probs(params_hat).detach(), welfare, 0.99)
    return meta_loss, joint_probs, env_reward, welfare[0]


def _exact_objective(designer, params, agent_lr, entropy_coef):
    """Welfare after one exact gradient-ascent step of each agent on its expected incentivised reward + beta H."""
    _, joint_probs, env_reward, welfare = _one_step_pd(designer, params, agent_lr, entropy_coef)
    designer_obs = torch.zeros(1, 5, dtype=torch.float64)
    designer_obs[0, 4] = 1.0
    joint = torch.tensor([[a, b] for a in (0, 1) for b in (0, 1)])
    schedule = designer(designer_obs)[0]
    probs = joint_probs(params)
    policy = torch.softmax(mg.agent_logits(params, torch.eye(5, dtype=torch.float64)[4].expand(1, 2, 5))[0], -1)
    entropy = -(policy * policy.log()).sum(-1)  # [2]
    objective = ((env_reward + schedule[joint]) * probs.unsqueeze(1)).sum(0) + entropy_coef * entropy
    # each agent ascends its own objective in its own parameters (row i of the stacked weights)
    own = [torch.autograd.grad(objective[i], params, create_graph=True) for i in range(2)]
    grads = [torch.stack([own[i][k][i] for i in range(2)]) for k in range(len(params))]
    params_hat = [p + agent_lr * g for p, g in zip(params, grads, strict=True)]
    return (joint_probs(params_hat) * welfare).sum()


def test_metagradient_matches_finite_differences_of_exact_objective():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(3)
    params = [p.detach().double().mul(50.0).requires_grad_() for p in mg.init_agent_params(2, 5, (), 2, gen)]
    designer = mg.IncentiveFunction(5, (2,), 3.0, ()).double()
    with torch.no_grad():
        designer.net[-1].weight.normal_(0.0, 0.5)
    agent_lr, entropy_coef = 0.7, 0.05
    meta_loss, *_ = _one_step_pd(designer, params, agent_lr, entropy_coef)
    meta_grads = torch.autograd.grad(meta_loss, list(designer.parameters()))
    assert max(float(g.abs().max()) for g in meta_grads) > 1e-3  # the designer's incentives matter
    eps = 1e-6
    for param, grad in zip(designer.parameters(), meta_grads, strict=True):
        flat = param.data.view(-1)
        for j in range(flat.numel()):
            old = float(flat[j])
            flat[j] = old + eps
            up = _exact_objective(designer, params, agent_lr, entropy_coef).item()
            flat[j] = old - eps
            down = _exact_objective(designer, params, agent_lr, entropy_coef).item()
            flat[j] = old
            # the meta loss is minimised: its gradient is minus the objective's
            assert -float(grad.view(-1)[j]) == pytest.approx((up - down) / (2 * eps), rel=1e-5, abs=1e-8)


def test_discounted_returns_respect_episode_end():
    rewards = torch.tensor([[1.0], [2.0], [4.0]])
    mask = torch.tensor([[1.0], [1.0], [0.0]])
    assert mg.discounted_returns(rewards, mask, 0.5)[:, 0].tolist() == [2.0, 2.0, 0.0]


# ----------------------------------------------------------------------------- rewards, bounds and cost
def _rollout(env_id, env_kwargs, num_envs=8, seed=0, **problem_kwargs):
    problem = mg.Problem(env_id, num_envs, seed, env_kwargs, **problem_kwargs)
    gen = torch.Generator().manual_seed(seed)
    params = mg.init_agent_params(problem.n_agents, problem.agent_obs_dim, (16,), problem.n_actions, gen)
    with torch.no_grad():
        params[-2].normal_(0.0, 1.0)  # non-uniform policies
    designer = mg.IncentiveFunction(problem.designer_obs_dim, problem.schedule_shape, problem.cap, (16,))
    with torch.no_grad():
        designer.net[-1].weight.normal_(0.0, 1.0)  # state-dependent schedules
    batch = problem.rollout([p.detach() for p in params], designer, gen)
    return problem, designer, batch


@pytest.mark.parametrize(
    "env_id, env_kwargs, problem_kwargs",
    [
        ("contract_envs/escape_room-v1", {"n_agents": 3, "min_at_lever": 2}, {}),
        ("contract_envs/escape_room-v1", {"n_agents": 3, "min_at_lever": 1, "incentives": "per_agent"}, {}),
        ("contract_envs/prisoners_dilemma-v1", {}, {}),
        ("contract_envs/cleanup-v1", {"horizon": 30, "incentive_cost": 0.5}, {}),
        ("contract_envs/tax_economy-v1", {}, {}),
        ("contract_envs/tax_economy-v1", {}, {"announce_rates": True, "designer_noise": 1.0}),
        ("contract_envs/tax_economy-v1", {"tax_model": "us_federal", "horizon": 30, "period_length": 10}, {}),
    ],
)
def test_differentiable_rewards_equal_the_environments(env_id, env_kwargs, problem_kwargs):
    """The in-graph incentivised rewards (and, for taxes, the planner's reward) equal what the environment paid."""
    problem, designer, batch = _rollout(env_id, env_kwargs, **problem_kwargs)
    if problem_kwargs.get("designer_noise"):  # sampled rates: they differ across episodes, and the agents see them
        assert np.std(batch["schedule"][0, :, 0]) > 0.05
        np.testing.assert_allclose(
            batch["agent_obs"][0, :, :, -1], np.repeat(batch["schedule"][0, :, :1], problem.n_agents, axis=1), rtol=1e-6
        )
    tensors = mg.to_torch(batch)
    agent_rewards, designer_direct = problem.incentivised_rewards(tensors, designer)
    alive = batch["alive"][..., None]
    np.testing.assert_allclose(
        agent_rewards.detach().numpy() * alive, batch["agent_reward"] * alive, rtol=1e-4, atol=1e-4
    )
    if problem.is_tax:
        np.testing.assert_allclose(designer_direct.detach().numpy(), batch["designer_reward"], rtol=1e-4, atol=1e-3)
    else:
        assert designer_direct is None
        assert np.abs(batch["paid"]).sum() > 0


@pytest.mark.parametrize(
    "env_id, env_kwargs",
    [
        ("contract_envs/escape_room-v1", {"n_agents": 5, "min_at_lever": 2}),
        ("contract_envs/prisoners_dilemma-v1", {"incentive_cost": 0.25}),
        ("contract_envs/cleanup-v1", {"horizon": 20, "incentive_cost": 0.0}),
    ],
)
def test_cost_accounting_matches_designer_reward(env_id, env_kwargs):
    """designer_return = welfare - alpha * paid (per episode) equals the environment's designer reward."""
    problem, _, batch = _rollout(env_id, env_kwargs)
    metrics = mg.batch_metrics(problem, batch)
    alive = batch["alive"]
    env_return = (batch["designer_reward"] * alive).sum(0).mean()
    assert metrics["designer_return"] == pytest.approx(env_return, abs=1e-6)
    paid = (batch["paid"].sum(-1) * alive).sum(0).mean()
    assert metrics["incentives_paid"] == pytest.approx(paid)
    # each agent was paid the schedule's entry of its outcome
    sched = batch["schedule"]
    if sched.ndim == 3:
        sched = np.broadcast_to(sched[:, :, None, :], (*batch["outcome"].shape, sched.shape[-1]))
    expected = np.take_along_axis(sched, batch["outcome"][..., None], -1)[..., 0]
    np.testing.assert_allclose(batch["paid"], expected, rtol=1e-6)


def test_incentives_stay_within_cap():
    designer = mg.IncentiveFunction(6, (3,), 2.0, (8,))
    with torch.no_grad():
        for p in designer.parameters():
            p.normal_(0.0, 100.0)
    with torch.no_grad():
        out = designer(torch.randn(1000, 6) * 100)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 2.0
    assert float(out.max()) > 1.99 and float(out.min()) < 0.01  # saturates at both ends
    x = torch.randn(10, 6)
    assert torch.allclose(designer.unit(x) * 2.0, designer(x))  # the cost is taken on the unit outputs


def test_clipped_linear_head_bounds_and_live_cost_gradient():
    designer = mg.IncentiveFunction(4, (3,), 2.0, (), head="clipped_linear")
    with torch.no_grad():
        designer.net[-1].weight.zero_()
        designer.net[-1].bias.copy_(torch.tensor([1.7, 0.4, -0.6]))  # above the cap, inside, below 0
    obs = torch.zeros(1, 4)
    assert designer(obs)[0].tolist() == pytest.approx([2.0, 0.8, 0.0])
    # the L1 cost is taken on max(z, 0): gradient 1 above the cap too, where a sigmoid would have saturated
    designer.cost_units(obs).sum().backward()
    assert designer.net[-1].bias.grad.tolist() == pytest.approx([1.0, 1.0, 0.0])
    designer.zero_grad()
    # the paid amount: flat above the cap; the lower clip passes the meta-gradient straight through
    designer(obs).sum().backward()
    assert designer.net[-1].bias.grad.tolist() == pytest.approx([0.0, 2.0, 2.0])
    sig = mg.IncentiveFunction(4, (3,), 2.0, ())
    assert sig(obs)[0].tolist() == pytest.approx([1.0, 1.0, 1.0])  # both heads start at cap / 2
    assert mg.IncentiveFunction(4, (3,), 2.0, (), head="clipped_linear")(obs)[0].tolist() == pytest.approx([1.0] * 3)
    with pytest.raises(ValueError, match="incentive head"):
        mg.IncentiveFunction(4, (3,), 2.0, (), head="tanh")


def test_differentiable_adam_matches_torch_adam_and_is_differentiable():
    torch.manual_seed(0)
    target = torch.randn(5, dtype=torch.float64)
    start = torch.randn(5, dtype=torch.float64)
    # the same trajectory as torch.optim.Adam
    ours = [start.clone().requires_grad_()]
    adam = mg.DifferentiableAdam(ours, lr=0.1)
    ref = start.clone().requires_grad_()
    opt = torch.optim.Adam([ref], lr=0.1)
    for _ in range(4):
        ours = [
            p.detach().requires_grad_()
            for p in adam.step(ours, ((ours[0] - target) ** 2 * target.abs()).sum(), create_graph=False)
        ]
        opt.zero_grad()
        ((ref - target) ** 2 * target.abs()).sum().backward()
        opt.step()
        assert torch.allclose(ours[0], ref.detach(), atol=1e-12)

    # the step is a differentiable function of what the loss depends on (here the target's scale c)
    def step_after_history(c: torch.Tensor) -> torch.Tensor:
        params = [start.clone().requires_grad_()]
        opt = mg.DifferentiableAdam(params, lr=0.1)
        for _ in range(3):  # history: constants
            params = [p.detach().requires_grad_() for p in opt.step(params, ((params[0] - target) ** 2).sum(), False)]
        return opt.step(params, ((params[0] - c * target) ** 2).sum(), create_graph=True)[0].sum()

    c = torch.tensor(1.3, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(step_after_history(c), c)
    eps = 1e-6
    fd = (
        step_after_history(torch.tensor(1.3 + eps, dtype=torch.float64))
        - step_after_history(torch.tensor(1.3 - eps, dtype=torch.float64))
    ) / (2 * eps)
    assert abs(float(grad)) > 1e-3
    assert float(grad) == pytest.approx(float(fd.detach()), rel=1e-5)


def test_bad_agent_optimizer_is_rejected():
    with pytest.raises(ValueError, match="--agent-optimizer"):
        mg.main(mg.Args(agent_optimizer="rmsprop", num_iterations=1))


def test_sampled_rates_score_function_term():
    """The designer's score-function term is -advantage * d log N(z + noise; z, sigma^2) / dz, and its expectation
    is the derivative of the expected objective (checked by Monte Carlo on f(u) = -(u - 1)^2)."""
    designer = mg.IncentiveFunction(3, (1,), 1.0, ())
    obs = torch.zeros(1, 20000, 3)
    sigma, z0 = 0.5, float(designer.net[-1].bias.detach())
    noise = torch.randn(1, 20000, 1, generator=torch.Generator().manual_seed(0)) * sigma
    objective = -(((z0 + noise[..., 0]) - 1.0) ** 2)
    advantage = objective - objective.mean()
    designer.noise_score_loss(obs, noise, sigma, advantage).backward()
    expected = float(-(noise[..., 0] / sigma**2 * advantage).mean())
    assert float(designer.net[-1].bias.grad) == pytest.approx(expected, rel=1e-4)
    assert -float(designer.net[-1].bias.grad) == pytest.approx(-2 * (z0 - 1.0), abs=0.05)  # d/dz E f(z + noise)


def test_rate_options_are_tax_only():
    with pytest.raises(ValueError, match="tax_economy"):
        mg.Problem("contract_envs/escape_room-v1", 2, 0, {}, announce_rates=True)
    with pytest.raises(ValueError, match="designer-noise"):
        mg.Problem("contract_envs/tax_economy-v1", 2, 0, {}, designer_noise=-1.0)
    with pytest.raises(ValueError, match="designer-noise-final"):
        mg.main(mg.Args(env_id="contract_envs/tax_economy-v1", designer_noise_final=0.1, num_iterations=1))


def test_annealed_step_sizes():
    assert mg.annealed(1e-2, None, 0.7) == 1e-2  # default: A's constant step
    assert mg.annealed(1e-2, 1e-4, 0.0) == pytest.approx(1e-2)
    assert mg.annealed(1e-2, 1e-4, 0.5) == pytest.approx(0.5 * (1e-2 + 1e-4))
    assert mg.annealed(1e-2, 1e-4, 1.0) == pytest.approx(1e-4)
    for field in ("designer_lr_final", "cost_lr_final"):
        with pytest.raises(ValueError, match=field.replace("_", "-")):
            mg.main(mg.Args(num_iterations=1, **{field: 0.0}))
