"""Dual-RL incentive designer: the learning-oblivious baseline of adaptive incentive design.

Yang et al., "Adaptive Incentive Design with Multi-Agent Meta-Gradient RL", AAMAS 2022 (`alg/id_er_pg.py`).
The incentive designer is an ordinary RL agent whose *action is the incentive vector*, on
``contract_envs/escape_room-v1``, ``prisoners_dilemma-v1``, ``tax_economy-v1`` (TaxLite) or ``cleanup-v1``.

Every step the designer observes its observation (and, as in A, the agents' joint action one-hot)
and samples an incentive schedule: an index into a discrete set of vectors (A's ``d^K`` sets, one
value per action type: small ``{0, 1.1}``, medium ``{0, 1.1, 2}``, large ``{0, .5, 1.1, 1.5, 2}``)
or a squashed Gaussian ``cap * sigmoid(u)``, ``u ~ N(mu(s), sigma)``. Its reward is the
environment's designer reward: social welfare minus what it pays (``incentive_cost`` = 1; the
tax planner of TaxLite gets productivity x equality and its action is the tax rate). It learns by
REINFORCE on discounted returns, blind to the fact that its action matters only through the
agents' *learning* (the agents never see the schedule): hence "learning-oblivious".

The agents are independent policy-gradient learners (REINFORCE with a per-step batch baseline and
an entropy bonus) on their environment reward plus the incentives received. One iteration
collects ``num_envs`` episodes in parallel with the batched API, then updates every agent and the
designer once on that batch.

Scoring (``metrics.json`` ``final``): the final evaluation (512 fresh episodes, policies sampled) as a
fraction of the exact optimum from ``contract_envs.solvers``: Escape Room welfare over ``10(N-M)-M`` and
designer return over the limit ``10(N-M)-2M`` (the discrete set's own best return is reported too), the PD's
welfare between all-D and all-C, TaxLite's productivity x equality over the continuous optimum 96.0 (t = 0.743;
the planner's own 0.05 grid allows 93.0 at t* = 0.75) and the exact equilibrium's value at the learned rate; the
final policies are checked against exact best responses (``br_*``, ``greedy_br_*``). ``history``: training
batches every ``--log-every`` iterations (``step`` = iteration).

Deviations from A (documented in docs/results/incentives_baselines.md): Adam for the agents
instead of single-episode SGD (many episodes per update, so that a 2-core run is feasible); a
per-step batch-mean baseline for agents and designer (A's designer has none); the Gaussian is
over the K action types (shared schedule) with a learned state-independent std instead of A's
per-agent Gaussian with std 1.

Fastest meaningful command (ER(3,2) with the exact optimum's fixed schedule as the designer, about 20 s: the
learners open the door, which separates learner noise from designer failure; drop ``--fixed-schedule`` for
the learning designer, which pays nothing and never opens it)::

    PYTHONPATH=. python baselines/dual_rl_designer.py --n-agents 3 --min-at-lever 2 --fixed-schedule 1.1 0 0 \
        --num-iterations 300
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import trange

import contract_envs
import contract_envs.vector
from contract_envs.contracts import ContractTerms
from contract_envs.games.escape_room import DOOR, LEVER
from contract_envs.solvers import (
    escape_room_best_designer_return,
    escape_room_best_responses,
    escape_room_max_welfare,
    escape_room_states,
    pd_best_designer_return,
    pd_best_responses,
    taxlite_best_responses,
    taxlite_continuous_optimum,
    taxlite_solve,
)

DISCRETE_SETS = {
    "small": (0.0, 1.1),
    "medium": (0.0, 1.1, 2.0),
    "large": (0.0, 0.5, 1.1, 1.5, 2.0),
    "none": (0.0,),  # a designer that never pays: the no-incentive reference
}
TAX_GRID = tuple(round(0.05 * k, 2) for k in range(21))


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (env b of the batch is seeded seed + b)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda will be enabled when available (small MLPs: CPU is faster)"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the designer and agents to `{runs_dir}/{run_name}/model.pt` (the evaluation reloads it)"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--eval-episodes`, `--runs-dir`) and write the evaluation to a new run folder"""

    # Environment
    env_id: str = "contract_envs/escape_room-v1"
    """escape_room-v1, prisoners_dilemma-v1, tax_economy-v1 (TaxLite) or cleanup-v1"""
    n_agents: int | None = None
    """Escape Room N (default 5)"""
    min_at_lever: int | None = None
    """Escape Room M (default 2)"""
    incentive_cost: float = 1.0
    """alpha in the designer's reward welfare - alpha * paid (not used by the tax economy)"""

    # Algorithm specific arguments
    designer_action: str | None = None
    """small | medium | large | none (discrete d^K sets) | gaussian | grid (tax rates 0, .05, ..., 1); default
    small, grid for the tax economy"""
    fixed_schedule: tuple[float, ...] | None = None
    """if given, the designer always pays this vector (K entries): a fixed-incentive reference for the learners"""
    designer_sees_actions: bool | None = None
    """whether the designer's policy also observes the joint action (A's dual-RL: yes; default: yes except tax)"""
    num_envs: int = 128
    """episodes collected in parallel per iteration"""
    num_iterations: int = 400
    """training iterations (one agent update and one designer update each)"""
    agent_lr: float = 3e-3
    """Adam learning rate of the agents' policies"""
    designer_lr: float = 1e-3
    """Adam learning rate of the designer's policy"""
    agent_ent_coef: float = 0.01
    """entropy bonus of the agents"""
    designer_ent_coef: float = 0.01
    """entropy bonus of the designer (discrete sets)"""
    gamma: float = 0.99
    """discount factor"""
    agent_hidden: tuple[int, ...] = (64, 32)
    """hidden sizes of each agent's policy MLP (A: 64-32)"""
    designer_hidden: tuple[int, ...] = (64, 64)
    """hidden sizes of the designer's policy MLP"""
    eval_episodes: int = 512
    """episodes of the final evaluation (policies sampled, as in A's evaluation)"""
    log_every: int = 10
    """TensorBoard logging period (iterations)"""


# --------------------------------------------------------------------------------------------------- networks
class BatchedMLP(nn.Module):
    """``n`` independent MLPs evaluated at once: input ``[..., n, in]`` -> ``[..., n, out]``."""

    def __init__(self, n: int, sizes: list[int], last_scale: float = 0.01):
        super().__init__()
        self.weights, self.biases = nn.ParameterList(), nn.ParameterList()
        for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
            bound = 1.0 / np.sqrt(fan_in)
            w = torch.empty(n, fan_in, fan_out).uniform_(-bound, bound)
            if k == len(sizes) - 2:
                w *= last_scale  # near-uniform initial policies
            self.weights.append(nn.Parameter(w))
            self.biases.append(nn.Parameter(torch.zeros(n, fan_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            x = torch.einsum("...ni,nio->...no", x, w) + b
            if k < last:
                x = torch.tanh(x)
        return x


class Designer(nn.Module):
    """Policy over incentive vectors: categorical over a finite set, or squashed Gaussian in ``[0, cap]^K``."""

    def __init__(self, obs_dim: int, hidden: tuple[int, ...], choices: np.ndarray | None, k: int, cap: float):
        super().__init__()
        self.cap, self.k = cap, k
        self.register_buffer("choices", None if choices is None else torch.as_tensor(choices, dtype=torch.float32))
        out = k if choices is None else len(choices)
        self.net = BatchedMLP(1, [obs_dim, *hidden, out])
        self.log_std = nn.Parameter(torch.zeros(k)) if choices is None else None

    def dist(self, obs: torch.Tensor) -> torch.distributions.Distribution:
        out = self.net(obs.unsqueeze(-2)).squeeze(-2)
        if self.choices is None:
            return torch.distributions.Normal(out, self.log_std.exp().expand_as(out))
        return torch.distributions.Categorical(logits=out)

    def to_incentives(self, sample: torch.Tensor) -> torch.Tensor:
        """Raw sample (index or Gaussian pre-activation) -> incentive vector ``[..., K]`` in ``[0, cap]``."""
        if self.choices is None:
            return self.cap * torch.sigmoid(sample)
        return self.choices[sample]

    def log_prob(self, d, sample: torch.Tensor) -> torch.Tensor:
        lp = d.log_prob(sample)
        return lp.sum(-1) if self.choices is None else lp


# --------------------------------------------------------------------------------------------------- helpers
def env_kwargs(args: Args) -> dict:
    name = args.env_id.split("/")[-1]
    if name.startswith("escape_room"):
        return {
            "n_agents": args.n_agents or 5,
            "min_at_lever": args.min_at_lever or 2,
            "incentives": "per_action",
            "incentive_cost": args.incentive_cost,
        }
    if name.startswith("tax_economy"):
        return {"tax_model": "flat"}
    return {"incentives": "per_action", "incentive_cost": args.incentive_cost}


def is_tax(env_id: str) -> bool:
    return "tax_economy" in env_id


def designer_choices(mode: str, k: int, cap: float) -> np.ndarray | None:
    """The finite set of incentive vectors of a discrete designer (``None``: Gaussian)."""
    if mode == "gaussian":
        return None
    if mode == "grid":
        return np.asarray(TAX_GRID, dtype=np.float64)[:, None] * np.ones(k) * cap
    if mode not in DISCRETE_SETS:
        raise ValueError(f"designer_action={mode!r}; allowed: {[*DISCRETE_SETS, 'gaussian', 'grid']}")
    values = [v for v in DISCRETE_SETS[mode] if v <= cap]
    return np.array(list(itertools.product(values, repeat=k)), dtype=np.float64)


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Returns-to-go along axis 1 (time) of ``[B, T, ...]``; steps with mask 0 contribute nothing."""
    out = torch.zeros_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in reversed(range(rewards.shape[1])):
        m = mask[:, t].view(-1, *([1] * (rewards.dim() - 2)))
        running = (rewards[:, t] + gamma * running) * m
        out[:, t] = running
    return out


def batch_baseline(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-time-step mean of the returns over the episodes alive at that step (``[B, T, ...]``)."""
    m = mask.view(*mask.shape, *([1] * (returns.dim() - 2)))
    return (returns * m).sum(0, keepdim=True) / m.sum(0, keepdim=True).clamp(min=1.0)


def designer_cap(game) -> float:
    """The designer's largest entry: its payment cap, or the tax planner's highest rate (a policy)."""
    terms = game.principal
    return float(terms.payment_cap if isinstance(terms, ContractTerms) else terms.high)


def rollout(env, agents: BatchedMLP, designer: Designer, sees_actions: bool, n_actions: int, greedy: bool = False):
    """One episode in each of the ``B`` envs (fresh reset); tensors ``[B, T, ...]`` and per-episode totals.

    ``env`` is the batched API (``contract_envs.vector.make``); an env whose episode ended is masked out."""
    obs, _ = env.reset()
    g = env.game
    b, horizon = env.num_envs, g.horizon
    cap = designer_cap(g)
    alive = np.ones(b, dtype=bool)
    buf = {
        k: [] for k in ("obs", "actions", "reward", "own", "received", "dobs", "dsample", "dreward", "schedule", "mask")
    }
    totals = {
        "welfare": np.zeros(b),
        "paid": np.zeros(b),
        "designer_return": np.zeros(b),
        "lever": np.zeros(b),
        "door": np.zeros(b),
        "door_open": np.zeros(b),
        "steps": np.zeros(b),
        "eq_x_prod": np.zeros(b),
    }
    for _ in range(horizon):
        agent_obs = np.stack([obs[a].reshape(b, -1) for a in env.agents], axis=1)
        with torch.no_grad():
            logits = agents(torch.as_tensor(agent_obs, dtype=torch.float32))
            acts = logits.argmax(-1) if greedy else torch.distributions.Categorical(logits=logits).sample()
            dobs = torch.as_tensor(obs["principal_0"].reshape(b, -1), dtype=torch.float32)
            if sees_actions:
                dobs = torch.cat([dobs, nn.functional.one_hot(acts, n_actions).flatten(1).float()], dim=1)
            d = designer.dist(dobs)
            sample = d.sample()
            schedule = designer.to_incentives(sample).numpy().astype(np.float64)
        actions = acts.numpy()
        step_actions = {a: actions[:, i] for i, a in enumerate(env.agents)}
        step_actions["principal_0"] = np.clip(schedule, 0.0, cap)
        obs, rewards, terms, truncs, infos = env.step(step_actions)
        done = terms["principal_0"] | truncs["principal_0"]
        designer_info = infos["principal_0"]
        m = alive.astype(np.float64)
        buf["obs"].append(agent_obs)
        buf["actions"].append(actions)
        buf["reward"].append(np.stack([rewards[a] for a in env.agents], axis=1))
        buf["own"].append(np.stack([infos[a]["own_reward"] for a in env.agents], axis=1))
        buf["received"].append(np.stack([infos[a]["payment"] for a in env.agents], axis=1))
        buf["dobs"].append(dobs.numpy())
        buf["dsample"].append(sample.numpy())
        buf["dreward"].append(rewards["principal_0"].copy())
        buf["schedule"].append(schedule)
        buf["mask"].append(m)
        totals["welfare"] += m * designer_info["welfare"]
        totals["paid"] += m * designer_info["payment"]
        totals["designer_return"] += m * rewards["principal_0"]
        totals["steps"] += m
        if g.name == "tax_economy":
            totals["eq_x_prod"] = np.where(alive, designer_info["equality_times_productivity"], totals["eq_x_prod"])
        elif g.name == "escape_room":
            totals["lever"] += m * (actions == LEVER).sum(1)
            totals["door"] += m * (actions == DOOR).sum(1)
            totals["door_open"] = np.maximum(totals["door_open"], m * designer_info["door_open"])
        alive &= ~done
        if not alive.any():
            break
        if done.any() and not env.autoreset:  # restart ended episodes; their later steps are masked out
            obs, _ = env.reset(env_idx=np.flatnonzero(done))
    batch = {k: torch.as_tensor(np.stack(v, axis=1)) for k, v in buf.items()}
    for k in ("obs", "dobs", "reward", "dreward", "mask", "own", "received"):
        batch[k] = batch[k].float()
    return batch, totals


def agent_loss(agents: BatchedMLP, batch: dict, gamma: float, ent_coef: float) -> torch.Tensor:
    mask = batch["mask"]
    returns = discounted_returns(batch["reward"], mask, gamma)
    adv = returns - batch_baseline(returns, mask)
    d = torch.distributions.Categorical(logits=agents(batch["obs"]))
    logp, ent = d.log_prob(batch["actions"]), d.entropy()
    m = mask[..., None]
    per_episode = (m * (logp * adv + ent_coef * ent)).sum(1)
    return -per_episode.mean(0).sum()


def designer_loss(designer: Designer, batch: dict, gamma: float, ent_coef: float) -> torch.Tensor:
    mask = batch["mask"]
    returns = discounted_returns(batch["dreward"], mask, gamma)
    adv = returns - batch_baseline(returns, mask)
    d = designer.dist(batch["dobs"])
    logp = designer.log_prob(d, batch["dsample"])
    ent = d.entropy() if designer.choices is not None else torch.zeros_like(logp)
    return -(mask * (logp * adv + ent_coef * ent)).sum(1).mean()


def summarize(totals: dict, batch: dict, tax: bool) -> dict[str, float]:
    """Per-episode means of a batch (all floats): welfare, paid, designer return, schedule, actions."""
    out = {k: float(np.mean(v)) for k, v in totals.items()}
    sched = (batch["schedule"] * batch["mask"][..., None].double()).sum((0, 1)) / batch["mask"].sum()
    out.update({f"mean_schedule_{k}": float(x) for k, x in enumerate(sched)})
    acts = (batch["actions"].double() * batch["mask"][..., None].double()).sum((0, 1)) / batch["mask"].sum()
    out.update({f"mean_action_agent_{i}": float(x) for i, x in enumerate(acts)})
    if tax:
        out["tax_rate"] = out["mean_schedule_0"]
    return out


def expected_schedule(designer: Designer, dobs: torch.Tensor) -> np.ndarray:
    """The designer's expected incentive vector ``[..., K]`` at each observation (its policy's mean payment)."""
    with torch.no_grad():
        d = designer.dist(dobs)
        if designer.choices is not None:
            return (d.probs @ designer.choices).double().numpy()
        nodes, weights = np.polynomial.hermite_e.hermegauss(40)  # E[cap sigmoid(u)], u ~ N(mu, std): quadrature
        u = d.loc.unsqueeze(-1) + d.scale.unsqueeze(-1) * torch.as_tensor(nodes, dtype=d.loc.dtype)
        mean = (designer.cap * torch.sigmoid(u) * torch.as_tensor(weights / weights.sum(), dtype=u.dtype)).sum(-1)
        return mean.double().numpy()


def decision_state_tables(args: Args, agents, designer, sees_actions: bool) -> tuple[np.ndarray, np.ndarray]:
    """The agents' action probabilities ``[S, N, A]`` and each agent's expected payment ``[S, J, N]`` for every
    joint action ``j`` in every decision state the exact solvers enumerate (Escape Room: ``escape_room_states``,
    after each joint action, then the start; the PD: previous joint action ``2 a0 + a1``, then the start). Each
    state is reached by playing its joint action from the start, so the observations are the environment's."""
    g = contract_envs.vector.make(args.env_id, 1, seed=0, autoreset=False, **env_kwargs(args)).game
    profiles = escape_room_states(g.n_agents)[0][:-1] if g.name == "escape_room" else PD_PROFILES
    env = contract_envs.vector.make(args.env_id, len(profiles), seed=0, autoreset=False, **env_kwargs(args))
    start, _ = env.reset()
    step = {a: profiles[:, i] for i, a in enumerate(env.agents)}
    step["principal_0"] = np.zeros((len(profiles), *g.principal.shape))
    after = env.step(step)[0]

    def stacked(key: str) -> np.ndarray:
        return np.concatenate([after[key].reshape(len(profiles), -1), start[key][:1].reshape(1, -1)])

    agent_obs = np.stack([stacked(a) for a in env.agents], axis=1)  # [S, N, obs]
    dobs = torch.as_tensor(stacked("principal_0"), dtype=torch.float32)  # [S, obs]
    with torch.no_grad():
        probs = torch.softmax(agents(torch.as_tensor(agent_obs, dtype=torch.float32)).double(), -1).numpy()
    n_states, n_joint = len(dobs), len(profiles)
    dobs = dobs[:, None, :].expand(n_states, n_joint, dobs.shape[-1])
    if sees_actions:  # the designer also sees the joint action it pays for
        joint = nn.functional.one_hot(torch.as_tensor(profiles), g.n_actions).flatten(1).float()
        dobs = torch.cat([dobs, joint[None].expand(n_states, -1, -1)], dim=-1)
    schedule = np.clip(expected_schedule(designer, dobs), 0.0, designer_cap(g))  # [S, J, K]
    payments = np.take_along_axis(schedule, np.broadcast_to(profiles[None], (n_states, *profiles.shape)), axis=2)
    return probs / probs.sum(-1, keepdims=True), payments


PD_PROFILES = np.array([[j // 2, j % 2] for j in range(4)])  # joint action 2 a0 + a1 -> (a0, a1)


def best_response_metrics(prefix: str, check) -> dict[str, float]:
    m = {f"{prefix}gain_max": float(check.gains.max()), f"{prefix}is_equilibrium": float(check.is_equilibrium(1e-6))}
    m.update({f"{prefix}gain_agent_{i}": float(x) for i, x in enumerate(check.gains)})
    return m


def exact_metrics(args: Args, game, final: dict[str, float], agents, designer, sees_actions: bool, choices) -> dict:
    """The evaluation as fractions of the exact optimum (``contract_envs.solvers``), and the final policies
    checked against exact best responses: ``br_*`` for the sampled policies, ``greedy_br_*`` for their greedy
    versions (gain 0 for every agent = a Nash equilibrium of the episode under the designer's expected payments)."""
    m = {}
    if game.name in ("escape_room", "prisoners_dilemma"):
        probs, payments = decision_state_tables(args, agents, designer, sees_actions)
        greedy = np.eye(probs.shape[-1])[probs.argmax(-1)]
    if game.name == "escape_room":
        n, k = game.n_agents, game.min_at_lever
        limit = escape_room_best_designer_return(n, k, args.incentive_cost)
        m["welfare_fraction_of_optimum"] = final["welfare"] / escape_room_max_welfare(n, k)
        m["designer_return_fraction_of_limit"] = final["designer_return"] / limit
        if choices is not None and len(choices) > 1:  # the designer's own action set: its best sustaining vector
            values = np.unique(choices)
            m["action_set_best_designer_return"] = escape_room_best_designer_return(n, k, args.incentive_cost, values)
        if n <= 6:
            kwargs = dict(horizon=game.horizon, discount=args.gamma)
            m.update(best_response_metrics("br_", escape_room_best_responses(n, k, probs, payments, **kwargs)))
            check = escape_room_best_responses(n, k, greedy, payments, **kwargs)
            m.update(best_response_metrics("greedy_br_", check))
            first = probs[-1].argmax(-1)
            m["greedy_start_profile_optimal"] = float((first == LEVER).sum() == k and (first == DOOR).sum() == n - k)
    elif game.name == "prisoners_dilemma":
        payoffs = tuple(float(x) for x in game.payoff.reshape(-1))
        r, _, _, p = payoffs
        m["welfare_normalised"] = (final["welfare"] - 2 * p * game.horizon) / (2 * (r - p) * game.horizon)
        m["stage_optimum_designer_return"] = pd_best_designer_return(args.incentive_cost) * game.horizon
        kwargs = dict(horizon=game.horizon, discount=args.gamma, payoffs=payoffs)
        m.update(best_response_metrics("br_", pd_best_responses(probs, payments, **kwargs)))
        m.update(best_response_metrics("greedy_br_", pd_best_responses(greedy, payments, **kwargs)))
        m["greedy_cooperates_on_path"] = float((probs[[0, 4]].argmax(-1) == 0).all())
    elif game.name == "tax_economy":
        sol = taxlite_solve()
        rate = round(final["tax_rate"] / 0.05) * 0.05  # the mean applied rate, on the solver's grid
        best = taxlite_continuous_optimum(tol=1e-7).objective  # over every rate; the grid planner's own best: 93.0
        m["eq_x_prod_fraction_of_optimum"] = final["eq_x_prod"] / best
        m["eq_x_prod_fraction_of_grid_optimum"] = final["eq_x_prod"] / sol.best_objective
        m["rate_error"] = abs(final["tax_rate"] - sol.best_rate)
        m["equilibrium_eq_x_prod_at_rate"] = float(sol.objective[sol.at(rate)])
        m["equilibrium_fraction_of_optimum"] = m["equilibrium_eq_x_prod_at_rate"] / best
        # the workers choose labour without seeing the rate: best responses to the planner's rate distribution
        env = contract_envs.vector.make(args.env_id, 1, seed=0, autoreset=False, **env_kwargs(args))
        obs, _ = env.reset()
        agent_obs = np.stack([obs[a].reshape(1, -1) for a in env.agents], axis=1)
        with torch.no_grad():
            probs = torch.softmax(agents(torch.as_tensor(agent_obs, dtype=torch.float32)).double(), -1).numpy()[0]
            rate_probs = designer.dist(torch.as_tensor(obs["principal_0"].reshape(1, -1), dtype=torch.float32))
            rate_probs = rate_probs.probs.double().numpy()[0]
        rates = designer.choices[:, 0].double().numpy()
        probs = probs / probs.sum(-1, keepdims=True)
        rate_probs = rate_probs / rate_probs.sum()
        kwargs = dict(rate_weights=rate_probs, skills=game.skills, max_labour=game.max_labour)
        kwargs.update(labour_cost=game.labour_cost, eta=game.eta)
        m.update(best_response_metrics("br_", taxlite_best_responses(rates, probs, **kwargs)))
        greedy = np.eye(probs.shape[-1])[probs.argmax(-1)]
        m.update(best_response_metrics("greedy_br_", taxlite_best_responses(rates, greedy, **kwargs)))
    return m


def evaluate(args: Args, agents, designer, sees_actions: bool, choices) -> dict[str, float]:
    """The final evaluation (fresh seeds, policies sampled) plus the exact scores."""
    torch.manual_seed(args.seed + 10_000_000)  # the sampled actions, the same after training and from a checkpoint
    env = contract_envs.vector.make(
        args.env_id, args.eval_episodes, seed=args.seed + 10_000_000, autoreset=False, **env_kwargs(args)
    )
    batch, totals = rollout(env, agents, designer, sees_actions, env.game.n_actions)
    final = summarize(totals, batch, is_tax(args.env_id))
    return {**final, **exact_metrics(args, env.game, final, agents, designer, sees_actions, choices)}


# --------------------------------------------------------------------------------------------------- run folder
ALGORITHM = os.path.basename(__file__)[: -len(".py")]
EVAL_OPTIONS = ("eval_episodes", "runs_dir")  # options a checkpoint's args do not override


def make_run_dir(args: Args) -> str:
    """``{runs_dir}/{algorithm}__{env_name}__{seed}__{unix_time}`` (the next free second if taken)."""
    env_name = args.env_id.split("/")[-1].rsplit("-v", 1)[0]
    stamp = int(time.time())
    while os.path.exists(path := os.path.join(args.runs_dir, f"{ALGORITHM}__{env_name}__{args.seed}__{stamp}")):
        stamp += 1
    os.makedirs(path)
    return path


def write_metrics(run_dir: str, args: Args, final: dict, history: list, wall: float, evaluation) -> dict:
    """``metrics.json`` in the contract-envs/metrics/v1 schema."""
    import platform

    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": args.env_id,
        "env_kwargs": env_kwargs(args),
        "seed": args.seed,
        "args": asdict(args),
        "final": {k: float(v) for k, v in final.items()},
        "history": history,
        "wall_clock_s": float(wall),
        "versions": {
            "contract_envs": contract_envs.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "eval": evaluation,
    }
    with open(os.path.join(run_dir, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    return metrics


def build(args: Args):
    """The networks and settings a run (or its checkpoint) needs: (agents, designer, sees_actions, choices)."""
    tax = is_tax(args.env_id)
    mode = args.designer_action or ("grid" if tax else "small")
    sees_actions = (not tax) if args.designer_sees_actions is None else args.designer_sees_actions
    env = contract_envs.vector.make(args.env_id, 1, seed=args.seed, autoreset=False, **env_kwargs(args))
    g = env.game
    k = int(np.prod(env.action_space("principal_0").shape))
    cap = designer_cap(g)
    if g.principal.shape != (k,):
        raise ValueError(f"the designer must use a shared per-action schedule, got shape {g.principal.shape}")
    choices = designer_choices(mode, k, cap)
    if args.fixed_schedule is not None:
        fixed = np.asarray(args.fixed_schedule, dtype=np.float64)
        if fixed.shape != (k,) or fixed.min() < 0 or fixed.max() > cap:
            raise ValueError(f"fixed_schedule must have {k} entries in [0, {cap}], got {args.fixed_schedule}")
        choices = fixed[None]
    obs_dim = int(np.prod(env.observation_space("agent_0").shape))
    dobs_dim = int(np.prod(env.observation_space("principal_0").shape))
    dobs_dim += g.n_agents * g.n_actions if sees_actions else 0
    agents = BatchedMLP(g.n_agents, [obs_dim, *args.agent_hidden, g.n_actions])
    designer = Designer(dobs_dim, args.designer_hidden, choices, k, cap)
    return agents, designer, sees_actions, choices


def load_checkpoint(path: str):
    """``(args, agents, designer, sees_actions, choices)`` rebuilt from a ``model.pt``."""
    saved = torch.load(path, weights_only=False)
    args = Args(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["args"].items()})
    agents, designer, sees_actions, choices = build(args)
    agents.load_state_dict(saved["state_dicts"]["agents"])
    designer.load_state_dict(saved["state_dicts"]["designer"])
    return args, agents, designer, sees_actions, choices


def evaluate_checkpoint(cli: Args) -> dict:
    """``--eval-checkpoint``: evaluate a saved model and write ``metrics.json`` with ``eval`` in a new run folder."""
    saved_args, agents, designer, sees_actions, choices = load_checkpoint(cli.eval_checkpoint)
    defaults = Args()
    given = {k: getattr(cli, k) for k in EVAL_OPTIONS if getattr(cli, k) != getattr(defaults, k)}
    args = Args(**{**asdict(saved_args), **given, "eval_checkpoint": cli.eval_checkpoint, "save_model": False})
    start = time.time()
    final = evaluate(args, agents, designer, sees_actions, choices)
    run_dir = make_run_dir(args)
    evaluation = {"checkpoint": cli.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps({"run_dir": run_dir, "eval": evaluation}))
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint is not None:
        return evaluate_checkpoint(args)
    tax = is_tax(args.env_id)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic

    agents, designer, sees_actions, choices = build(args)
    env = contract_envs.vector.make(args.env_id, args.num_envs, seed=args.seed, autoreset=False, **env_kwargs(args))
    n_actions = env.game.n_actions
    run_dir = make_run_dir(args)
    run_name = os.path.basename(run_dir)
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=run_name,
            save_code=True,
        )
    writer = SummaryWriter(run_dir)
    table = "\n".join(f"|{key}|{value}|" for key, value in vars(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")
    agent_opt = torch.optim.Adam(agents.parameters(), lr=args.agent_lr)
    designer_opt = torch.optim.Adam(designer.parameters(), lr=args.designer_lr)

    start, history = time.time(), []
    progress = trange(args.num_iterations, desc=run_name[:40])
    for it in progress:
        batch, totals = rollout(env, agents, designer, sees_actions, n_actions)
        a_loss = agent_loss(agents, batch, args.gamma, args.agent_ent_coef)
        agent_opt.zero_grad()
        a_loss.backward()
        agent_opt.step()
        d_loss = designer_loss(designer, batch, args.gamma, args.designer_ent_coef)
        if d_loss.requires_grad:
            designer_opt.zero_grad()
            d_loss.backward()
            designer_opt.step()
        if it % args.log_every == 0 or it == args.num_iterations - 1:
            stats = summarize(totals, batch, tax)
            episodes = (it + 1) * args.num_envs
            history.append({"step": it, "episodes": float(episodes), **stats})
            for key, value in stats.items():
                writer.add_scalar(f"charts/{key}", value, episodes)
            writer.add_scalar("charts/SPS", episodes / (time.time() - start), episodes)
            progress.set_postfix(welfare=f"{stats['welfare']:.2f}", net=f"{stats['designer_return']:.2f}")
    train_seconds = time.time() - start

    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        state = {"agents": agents.state_dict(), "designer": designer.state_dict()}
        torch.save({"args": asdict(args), "state_dicts": state}, model_path)
        _, agents, designer, sees_actions, choices = load_checkpoint(model_path)
        print(f"model saved to {model_path} and reloaded for the evaluation")

    final = evaluate(args, agents, designer, sees_actions, choices)
    final["train_seconds"] = train_seconds
    final["episodes"] = float(args.num_iterations * args.num_envs)
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    print(json.dumps({"run_dir": run_dir, "final": metrics["final"]}))
    writer.close()
    return metrics


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(tyro.cli(Args, description=__doc__))
