"""Dual-RL incentive designer and LIO peer-incentive baselines: end to end, bounds, money accounting, meta-gradient."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import contract_envs.vector
from baselines import dual_rl_designer as drl
from baselines import lio_peer_incentives as lio
from contract_envs import solvers

REPO = Path(__file__).resolve().parents[1]
ER = "contract_envs/escape_room-v1"
PD = "contract_envs/prisoners_dilemma-v1"


def run_script(script: str, tmp_path: Path, *flags: str, tiny: bool = True) -> dict:
    budget = ["--num-iterations", "2", "--num-envs", "4", "--eval-episodes", "8"] if tiny else []
    cmd = [sys.executable, str(REPO / "baselines" / script), *budget, "--runs-dir", str(tmp_path / "runs"), *flags]
    out = subprocess.run(
        cmd, cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-3000:]
    run_dir = json.loads(out.stdout.strip().splitlines()[-1])["run_dir"]
    return json.loads((Path(run_dir) / "metrics.json").read_text())


# ------------------------------------------------------------------------------------------------ end to end
def test_dual_rl_script_end_to_end_pays_the_fixed_schedule_exactly(tmp_path):
    """With the exact optimum's schedule (lever 1.1) as the designer, every lever pull is paid 1.1 and nothing else."""
    m = run_script(
        "dual_rl_designer.py", tmp_path, "--n-agents", "3", "--min-at-lever", "2", "--fixed-schedule", "1.1", "0", "0"
    )
    ev = m["final"]
    assert ev["episodes"] == 8
    assert (ev["mean_schedule_0"], ev["mean_schedule_1"], ev["mean_schedule_2"]) == pytest.approx((1.1, 0.0, 0.0))
    assert ev["lever"] > 0 and ev["paid"] == pytest.approx(1.1 * ev["lever"])
    assert ev["designer_return"] == pytest.approx(ev["welfare"] - ev["paid"])
    assert ev["welfare_fraction_of_optimum"] == pytest.approx(ev["welfare"] / 8.0)


def test_lio_checkpoint_round_trip_reproduces_the_evaluation(tmp_path):
    """--save-model then --eval-checkpoint: the reloaded gift functions and policies evaluate identically."""
    trained = run_script("lio_peer_incentives.py", tmp_path, "--n-agents", "3", "--min-at-lever", "2", "--save-model")
    assert trained["env_kwargs"]["incentives"] == "peer" and trained["final"]["episodes"] == 16
    (checkpoint,) = (tmp_path / "runs").glob("*/model.pt")
    again = run_script("lio_peer_incentives.py", tmp_path, "--eval-checkpoint", str(checkpoint), tiny=False)
    assert again["eval"]["checkpoint"] == str(checkpoint) and again["history"] == []
    assert again["final"]["gifts_total"] > 0.0  # the incentive functions give (sigmoid outputs are never 0)
    for key, value in again["eval"]["final"].items():
        assert value == pytest.approx(trained["final"][key], abs=1e-9), key


@pytest.mark.parametrize(
    ("env_id", "flags"),
    [
        (PD, {}),
        ("contract_envs/cleanup-v1", {"num_envs": 2}),
        (ER, {"designer_action": "gaussian", "n_agents": 2, "min_at_lever": 1}),
    ],
)
def test_dual_rl_runs_on_every_environment(env_id, flags, tmp_path):
    settings = {"num_iterations": 2, "num_envs": 4, "eval_episodes": 4, "runs_dir": str(tmp_path), **flags}
    m = drl.main(drl.Args(env_id=env_id, **settings))
    (path,) = tmp_path.glob("dual_rl_designer__*/metrics.json")
    assert json.loads(path.read_text())["env_id"] == env_id == m["env_id"]
    assert m["final"]["designer_return"] == pytest.approx(m["final"]["welfare"] - m["final"]["paid"])


def test_dual_rl_taxlite_is_scored_against_the_exact_equilibrium(tmp_path):
    """A planner fixed at t* = 0.75: the exact equilibrium there is the optimum (93.0); taxes are not payments."""
    m = drl.main(
        drl.Args(
            env_id="contract_envs/tax_economy-v1",
            fixed_schedule=(0.75,),
            num_iterations=2,
            num_envs=4,
            eval_episodes=8,
            runs_dir=str(tmp_path),
        )
    )
    assert m["args"]["designer_action"] is None and not m["args"]["designer_sees_actions"]
    final = m["final"]
    assert final["tax_rate"] == pytest.approx(0.75) and final["rate_error"] < 1e-6 and final["paid"] == 0.0
    assert final["equilibrium_eq_x_prod_at_rate"] == pytest.approx(93.0)
    # t* = 0.75 is the grid's optimum; over continuous rates the optimum is 96.007 (t = 0.7429)
    assert final["equilibrium_fraction_of_optimum"] == pytest.approx(93.0 / 96.0067, rel=1e-5)


def test_lio_runs_on_prisoners_dilemma(tmp_path):
    m = lio.main(lio.Args(env_id=PD, num_iterations=2, num_envs=4, eval_episodes=4, runs_dir=str(tmp_path)))
    assert m["final"]["cost_coef"] == 0.0  # LIO's IPD config has no gift cost
    assert m["final"]["steps"] == 5.0


def test_lio_agents_learn_to_cooperate_in_the_prisoners_dilemma(tmp_path):
    """Learning, at CI scale (seed 1, 80 iterations): LIO agents pay each other for cooperating and cooperate;
    the same learners with gifts capped at 0.01 defect (within 30 iterations), so the cooperation comes from the
    learned incentives."""
    settings = dict(env_id=PD, eval_episodes=128, seed=1, runs_dir=str(tmp_path))
    lio_final = lio.main(lio.Args(**settings, num_iterations=80))["final"]
    capped = lio.main(lio.Args(**settings, num_iterations=30, incentive_cap=0.01))["final"]
    assert lio_final["cooperation"] >= 0.95 and lio_final["welfare_normalised"] >= 0.95
    assert lio_final["gifts_total"] > 10.0  # gifts for C are what sustains it (no cost in LIO's IPD config)
    assert capped["cooperation"] <= 0.1


def test_lio_rejects_environments_without_peer_variant():
    with pytest.raises(ValueError, match="escape_room-v1 or prisoners_dilemma-v1"):
        lio.env_kwargs(lio.Args(env_id="contract_envs/tax_economy-v1"))


# ------------------------------------------------------------------------------------------------ dual-RL bounds
def test_discrete_sets_are_paper_sets_and_within_bounds():
    small = drl.designer_choices("small", 3, 2.0)
    assert small.shape == (8, 3) and set(np.unique(small)) == {0.0, 1.1}
    assert drl.designer_choices("medium", 3, 2.0).shape == (27, 3)
    large = drl.designer_choices("large", 2, 3.0)
    assert large.shape == (25, 2) and large.max() == 2.0
    assert drl.designer_choices("large", 3, 1.0).max() <= 1.0  # values above the cap are dropped
    grid = drl.designer_choices("grid", 1, 1.0)
    assert grid.shape == (21, 1) and grid[15, 0] == pytest.approx(0.75)
    with pytest.raises(ValueError, match="designer_action"):
        drl.designer_choices("huge", 3, 2.0)


def test_gaussian_designer_stays_within_cap():
    designer = drl.Designer(4, (8,), None, 3, 2.0)
    extreme = torch.tensor([[-1e4, 0.0, 1e4]])
    values = designer.to_incentives(extreme)
    assert values.min() >= 0.0 and values.max() <= 2.0
    assert values[0, 1] == pytest.approx(1.0)


def test_fixed_schedule_is_validated(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="fixed_schedule"):
        drl.main(drl.Args(fixed_schedule=(2.5, 0.0, 0.0), num_iterations=1, num_envs=2))


def test_dual_rl_cost_accounting_matches_ledger():
    """Designer reward = welfare - paid; agents get env reward + the entry of the schedule for their action."""
    torch.manual_seed(0)
    env = contract_envs.vector.make(ER, 64, seed=3, n_agents=3, min_at_lever=2)
    agents = drl.BatchedMLP(3, [9, 16, 3])
    designer = drl.Designer(18 + 9, (16,), drl.designer_choices("medium", 3, 2.0), 3, 2.0)
    batch, totals = drl.rollout(env, agents, designer, True, 3)
    mask = batch["mask"].double()
    schedule, actions = batch["schedule"], batch["actions"]
    paid_entry = torch.gather(schedule, 2, actions)  # [B, T, N]: what each agent was paid
    alive = mask > 0
    assert torch.allclose(batch["received"].double()[alive], paid_entry[alive], atol=1e-6)
    assert torch.allclose(batch["reward"].double(), batch["own"].double() + batch["received"].double(), atol=1e-5)
    paid = (paid_entry.sum(-1) * mask).sum(1).numpy()
    assert np.allclose(totals["paid"], paid)
    assert np.allclose(totals["designer_return"], totals["welfare"] - totals["paid"])
    assert (totals["paid"] > 0).any() and schedule.min() >= 0.0 and schedule.max() <= 2.0


def test_dual_rl_incentive_cost_weight():
    env = contract_envs.vector.make(ER, 32, seed=1, n_agents=2, min_at_lever=1, incentive_cost=0.5)
    fixed = np.array([[1.1, 1.1, 1.1]])
    _, totals = drl.rollout(env, drl.BatchedMLP(2, [6, 8, 3]), drl.Designer(12 + 6, (8,), fixed, 3, 2.0), True, 3)
    assert np.allclose(totals["designer_return"], totals["welfare"] - 0.5 * totals["paid"])
    assert np.allclose(totals["paid"], 1.1 * 2 * totals["steps"])  # every agent is paid 1.1 every step


def test_discounted_returns_and_mask():
    rewards = torch.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 5.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
    out = drl.discounted_returns(rewards, mask, 0.5)
    assert torch.allclose(out, torch.tensor([[1 + 1 + 0.75, 2 + 1.5, 3.0], [1.5, 1.0, 0.0]]))
    assert torch.allclose(lio.discounted_returns(rewards, mask, 0.5), out)


# ------------------------------------------------------------------------------------------------ LIO
def tiny_lio_case(n_agents=2, min_at_lever=1, episodes=6, seed=0):
    torch.manual_seed(seed)
    env = contract_envs.vector.make(
        ER, episodes, seed=seed, n_agents=n_agents, min_at_lever=min_at_lever, incentives="peer", horizon=3
    )
    obs_dim = 3 * n_agents + n_agents - 1
    theta = lio.init_mlp(n_agents, [obs_dim, 5, 3], last_scale=1.0)
    eta = lio.init_mlp(n_agents, [obs_dim, 4, (n_agents - 1) * 3], last_scale=1.0)
    batch = lio.rollout(env, theta, eta, 2.0)
    theta_hat = lio.updated_policies(
        theta, eta, batch, 2.0, 3, 0.9, 0.01, 0.5, torch.as_tensor(lio.others_index(n_agents))
    )
    batch_hat = lio.rollout(env, [p.detach() for p in theta_hat], eta, 2.0)
    return env, theta, eta, batch, batch_hat


def test_lio_gifts_match_environment_transfers():
    env, _, _, batch, _ = tiny_lio_case(n_agents=3, min_at_lever=2, episodes=32)
    others = torch.as_tensor(lio.others_index(3))
    gifts, mask = batch["gifts"], batch["mask"].double()[..., None]
    assert gifts.min() >= 0.0 and gifts.max() <= 2.0 and gifts.max() > 0.0
    assert torch.allclose(lio.received(gifts, others) * mask, batch["transfer_in"] * mask)
    assert torch.allclose(gifts.sum(-1) * mask, batch["transfer_out"] * mask)
    assert torch.allclose(batch["transfer_in"].sum(-1), batch["transfer_out"].sum(-1))  # money is conserved


def test_lio_gift_cost_is_discounted_l1_of_gifts_given():
    _, _, eta, batch, _ = tiny_lio_case()
    others = torch.as_tensor(lio.others_index(2))
    cost = lio.gift_cost(eta, batch, 2.0, 3, 0.9, others)
    gifts = batch["gifts"].sum(-1) * batch["mask"].double()[..., None]
    expected = (gifts * 0.9 ** torch.arange(gifts.shape[1])[None, :, None]).sum(1).mean(0)
    assert torch.allclose(cost.double(), expected, atol=1e-5)


def test_lio_meta_gradient_matches_finite_differences():
    """d/d eta_i of agent i's objective through the others' one-step update, vs central differences (float64)."""
    _, theta, eta, batch, batch_hat = tiny_lio_case()
    for b in (batch, batch_hat):
        for k in ("obs", "own", "mask"):
            b[k] = b[k].double()
    theta = [p.detach().double().requires_grad_() for p in theta]
    eta = [p.detach().double().requires_grad_() for p in eta]
    others = torch.as_tensor(lio.others_index(2))

    def objectives(eta_params):
        theta_hat = lio.updated_policies(theta, eta_params, batch, 2.0, 3, 0.9, 0.01, 0.5, others)
        return lio.incentive_objectives(theta_hat, batch_hat, 0.9)

    theta_hat = lio.updated_policies(theta, eta, batch, 2.0, 3, 0.9, 0.01, 0.5, others)
    grads, _ = lio.incentive_gradients(theta_hat, eta, batch_hat, 0.9)
    rng = np.random.default_rng(0)
    eps, checked = 1e-6, 0
    for i in range(2):
        for layer in range(len(eta)):
            for _ in range(3):
                idx = (i, *(int(rng.integers(s)) for s in eta[layer].shape[1:]))
                plus = [p.detach().clone() for p in eta]
                minus = [p.detach().clone() for p in eta]
                plus[layer][idx] += eps
                minus[layer][idx] -= eps
                fd = (objectives(plus)[i] - objectives(minus)[i]).item() / (2 * eps)
                assert grads[layer][idx].item() == pytest.approx(fd, rel=1e-4, abs=1e-8)
                checked += abs(fd) > 1e-6
    assert checked >= 6  # the gradient is not trivially zero: it flows through the others' update
    # an agent's own incentive function does not move its own update: d theta_hat_i / d eta_i = 0
    own = [p.detach().clone() for p in eta]
    own[0][0] += 0.5
    theta_hat_own = lio.updated_policies(theta, own, batch, 2.0, 3, 0.9, 0.01, 0.5, others)
    assert torch.allclose(theta_hat_own[0][0], theta_hat[0][0])
    assert not torch.allclose(theta_hat_own[0][1], theta_hat[0][1])  # agent 1's update does move


@pytest.mark.parametrize(("env_id", "mode"), [(ER, "medium"), (ER, "gaussian"), (PD, "small")])
def test_dual_rl_exact_values_of_the_learned_policies_match_the_environment(env_id, mode):
    """The tables fed to the exact solver (agents' policies per state, the designer's expected payment per state and
    joint action, which it observes) describe the rollouts: the exact value of the joint policy equals the Monte
    Carlo mean of the agents' discounted incentivised returns."""
    torch.manual_seed(0)
    args = drl.Args(env_id=env_id, n_agents=3, min_at_lever=2, designer_action=mode)
    agents, designer, sees_actions, _ = drl.build(args)
    with torch.no_grad():
        for p in (*agents.parameters(), *designer.parameters()):
            p.normal_(0.0, 1.0)  # state-dependent policies and payments
    probs, payments = drl.decision_state_tables(args, agents, designer, sees_actions)
    if env_id == ER:
        check = solvers.escape_room_best_responses(3, 2, probs, payments, discount=0.9)
    else:
        check = solvers.pd_best_responses(probs, payments, discount=0.9)
    env = contract_envs.vector.make(env_id, 20_000, seed=2, autoreset=False, **drl.env_kwargs(args))
    batch, _ = drl.rollout(env, agents, designer, sees_actions, env.game.n_actions)
    returns = drl.discounted_returns(batch["reward"].double(), batch["mask"].double(), 0.9)[:, 0]  # [B, N]
    se = returns.std(0).numpy() / np.sqrt(returns.shape[0])
    assert np.all(np.abs(returns.mean(0).numpy() - check.values) < 4 * se + 1e-9), (returns.mean(0), check.values)
