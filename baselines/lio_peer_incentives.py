"""LIO: agents that learn to pay each other, on the peer-incentive variants of contract-envs.

Yang et al., "Learning to Incentivize Other Learning Agents", NeurIPS 2020 (arXiv 2006.06051; official code
011235813/lio, `lio/alg/lio_agent.py`, `train_pg.py`, `config_room_lio.py`), on ``contract_envs/escape_room-v1``
and ``contract_envs/prisoners_dilemma-v1`` with ``incentives="peer"``.

Each agent ``i`` has a policy ``pi_theta_i`` and an incentive function ``eta_i``: an MLP of its
observation whose output ``cap * sigmoid(.)`` is a gift schedule ``[N-1, n_actions]``: what it pays
each other agent for each action that agent takes (the environment's ``incentives="peer"``
action; gifts are transfers of the contract layer). One iteration:

1. collect a batch ``tau`` of ``num_envs`` episodes with ``(theta, eta)``;
2. every agent ``j`` takes one differentiable policy-gradient step on ``tau`` with reward
   ``r_env_j + sum_i gift_{i->j}(eta_i)``:  ``theta_hat_j(eta) = theta_j + lr_actor * grad J_j``
   (built with ``create_graph=True``, so ``theta_hat`` is a function of every ``eta_i``, ``i != j``);
3. collect ``tau_hat`` with ``(theta_hat, eta)``;
4. agent ``i`` ascends its own *extrinsic* return through the others' update,
   ``d/d eta_i  sum_j E_tau_hat[log pi_{theta_hat_j(eta)}(a_j | o_j) * (G^i_env - b)]`` (Adam,
   ``lr_reward``), and a separate Adam (``lr_cost``) descends the L1 cost ``cost_coef * sum_t gamma^t
   sum_j gift_{i->j}`` of what it gave in ``tau`` (LIO's ``separate_cost_optimizer``);
5. ``theta <- theta_hat``.

The policy-gradient learners use a per-time-step batch-mean baseline (inside the differentiable
step, so the meta-gradient is the exact derivative of the update performed) and an entropy bonus.

Scoring (``metrics.json`` ``final``): the final evaluation (512 fresh episodes, policies sampled) as a fraction
of the exact optimum from ``contract_envs.solvers``: the collective extrinsic return (gifts excluded) over
Escape Room's maximum welfare ``10(N-M)-M``, or the PD's welfare between all-D (-20) and all-C (-10);
gifts are reported separately. ``history``: the validation batches every ``--log-every`` iterations
(``step`` = iteration).

Fastest meaningful command (the iterated PD, about 20 s on 2 cores: the agents learn to pay each other for cooperating
and cooperate)::

    PYTHONPATH=. python baselines/lio_peer_incentives.py --env-id contract_envs/prisoners_dilemma-v1 \
        --num-iterations 150
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
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import trange

import contract_envs
import contract_envs.vector
from contract_envs.games._incentive_common import others_index
from contract_envs.games.escape_room import LEVER
from contract_envs.solvers import escape_room_max_welfare


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (env b of the batch is seeded seed + b)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """unused (small MLPs run on the CPU); kept for the CleanRL interface"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save policies and incentive functions to `{runs_dir}/{run_name}/model.pt` (the evaluation
    reloads it)"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--eval-episodes`, `--runs-dir`) and write the evaluation to a new run folder"""

    # Environment
    env_id: str = "contract_envs/escape_room-v1"
    """escape_room-v1 or prisoners_dilemma-v1 (always with incentives='peer')"""
    n_agents: int = 2
    """Escape Room N (LIO: 2; also 3)"""
    min_at_lever: int = 1
    """Escape Room M (LIO: 1; also 2)"""

    # Algorithm specific arguments
    num_envs: int = 64
    """episodes per batch (two batches per iteration: tau and tau_hat)"""
    num_iterations: int = 400
    """training iterations"""
    lr_actor: float = 0.1
    """step size of the agents' (differentiable, plain gradient) policy update"""
    lr_reward: float = 1e-2
    """Adam learning rate of the incentive functions (LIO: 1e-3 over 25,000 single-episode iterations; larger here
    because an iteration averages many episodes and runs are ~50x shorter)"""
    lr_cost: float = 1e-4
    """Adam learning rate of the separate L1-cost step (LIO: 1e-4)"""
    cost_coef: float | None = None
    """weight of the L1 cost of gifts (default 1 in Escape Room, 0 in the PD as in LIO's IPD config)"""
    ent_coef: float = 0.01
    """entropy bonus of the policies"""
    gamma: float = 0.99
    """discount factor"""
    incentive_cap: float | None = None
    """largest gift per entry (default: the environment's, 2 in Escape Room, 3 in the PD = LIO's r_multiplier)"""
    policy_hidden: tuple[int, ...] = (64, 32)
    """hidden sizes of the policy MLPs"""
    incentive_hidden: tuple[int, ...] = (64, 16)
    """hidden sizes of the incentive-function MLPs"""
    eval_episodes: int = 512
    """episodes of the final evaluation"""
    log_every: int = 10
    """TensorBoard logging period (iterations)"""


# --------------------------------------------------------------------------------------------------- networks
def init_mlp(n: int, sizes: list[int], last_scale: float = 0.01, last_bias: float = 0.0) -> list[torch.Tensor]:
    """Parameters ``[w0, b0, w1, b1, ...]`` of ``n`` independent MLPs (leading axis = agent)."""
    params = []
    for k, (fan_in, fan_out) in enumerate(itertools.pairwise(sizes)):
        bound = 1.0 / np.sqrt(fan_in)
        w = torch.empty(n, fan_in, fan_out).uniform_(-bound, bound)
        last = k == len(sizes) - 2
        params += [w * (last_scale if last else 1.0), torch.full((n, fan_out), last_bias if last else 0.0)]
    return [p.requires_grad_() for p in params]


def mlp(params: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Apply the batched MLP: ``x [..., n, in]`` -> ``[..., n, out]`` (tanh hidden layers)."""
    layers = len(params) // 2
    for k in range(layers):
        x = torch.einsum("...ni,nio->...no", x, params[2 * k]) + params[2 * k + 1]
        if k < layers - 1:
            x = torch.tanh(x)
    return x


def gift_schedules(eta: list[torch.Tensor], obs: torch.Tensor, cap: float, n_actions: int) -> torch.Tensor:
    """Incentive functions: obs ``[..., N, obs]`` -> schedules ``[..., N, N-1, n_actions]`` in ``[0, cap]``."""
    out = mlp(eta, obs)
    return cap * torch.sigmoid(out).reshape(*out.shape[:-1], -1, n_actions)


def gifts_given(schedules: torch.Tensor, actions: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """``gift[..., i, k]`` = what ``i`` pays its ``k``-th other agent for the action that agent took."""
    recipient_actions = actions[..., others]  # [..., N, N-1]
    return torch.gather(schedules, -1, recipient_actions.unsqueeze(-1)).squeeze(-1)


def received(gifts: torch.Tensor, others: torch.Tensor) -> torch.Tensor:
    """Sum of gifts received by each agent ``[..., N]`` from ``gifts [..., N, N-1]``."""
    n = gifts.shape[-2]
    into = torch.zeros(*gifts.shape[:-2], n, dtype=gifts.dtype)
    return into.index_add(-1, others.reshape(-1), gifts.reshape(*gifts.shape[:-2], -1))


# --------------------------------------------------------------------------------------------------- returns
def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """Returns-to-go along time (axis 1) of ``[B, T, ...]`` (differentiable in ``rewards``)."""
    steps, running, outs = rewards.shape[1], torch.zeros_like(rewards[:, 0]), []
    for t in reversed(range(steps)):
        m = mask[:, t].view(-1, *([1] * (rewards.dim() - 2)))
        running = (rewards[:, t] + gamma * running) * m
        outs.append(running)
    return torch.stack(outs[::-1], dim=1)


def advantages(returns: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Returns minus the per-time-step mean over the episodes alive at that step."""
    m = mask.view(*mask.shape, *([1] * (returns.dim() - 2)))
    base = (returns * m).sum(0, keepdim=True) / m.sum(0, keepdim=True).clamp(min=1.0)
    return (returns - base) * m


# --------------------------------------------------------------------------------------------------- rollout
@torch.no_grad()
def rollout(env, theta: list[torch.Tensor], eta: list[torch.Tensor], cap: float) -> dict:
    """One episode per env of the batch (fresh reset) with policies ``theta`` and incentive functions ``eta``."""
    obs, _ = env.reset()
    g = env.game
    b, n, horizon, n_actions = env.num_envs, g.n_agents, g.horizon, g.n_actions
    others = torch.as_tensor(others_index(n))
    alive = np.ones(b, dtype=bool)
    buf = {k: [] for k in ("obs", "actions", "own", "transfer_in", "transfer_out", "gifts", "mask")}
    lever = np.zeros(b)
    door_open = np.zeros(b)
    for _ in range(horizon):
        o = torch.as_tensor(np.stack([obs[a] for a in env.agents], axis=1), dtype=torch.float32)
        acts = torch.distributions.Categorical(logits=mlp(theta, o)).sample()
        schedules = gift_schedules(eta, o, cap, n_actions)
        sched_np = schedules.double().clamp(0.0, cap).numpy()
        actions = acts.numpy()
        obs, _, terms, truncs, infos = env.step(
            {a: {"action": actions[:, i], "incentives": sched_np[:, i]} for i, a in enumerate(env.agents)}
        )
        done = terms["agent_0"] | truncs["agent_0"]
        m = alive.astype(np.float64)
        buf["obs"].append(o.numpy())
        buf["actions"].append(actions)
        for key in ("own_reward", "transfer_in", "transfer_out"):
            buf["own" if key == "own_reward" else key].append(np.stack([infos[a][key] for a in env.agents], axis=1))
        buf["gifts"].append(gifts_given(torch.as_tensor(sched_np), acts, others).numpy())
        buf["mask"].append(m)
        if g.name == "escape_room":
            lever += m * (actions == LEVER).sum(1)
            door_open = np.maximum(door_open, m * infos["agent_0"]["door_open"])
        alive &= ~done
        if not alive.any():
            break
        if done.any() and not env.autoreset:  # restart ended episodes; their later steps are masked out
            obs, _ = env.reset(env_idx=np.flatnonzero(done))
    batch = {k: torch.as_tensor(np.stack(v, axis=1)) for k, v in buf.items()}
    for k in ("obs", "own", "mask"):
        batch[k] = batch[k].float()
    batch["lever"], batch["door_open"] = lever, door_open
    alive = batch["mask"].double()[..., None]
    batch["cooperation"] = (
        float(((batch["actions"] == 0) * alive).sum() / (alive.sum() * n)) if g.name == "prisoners_dilemma" else 0.0
    )
    return batch


# --------------------------------------------------------------------------------------------------- LIO steps
def policy_objective(theta, eta, batch, cap, n_actions, gamma, ent_coef, others) -> torch.Tensor:
    """Sum over agents of each one's PG surrogate on ``env reward + gifts received`` (mean over episodes)."""
    obs, actions, mask = batch["obs"], batch["actions"], batch["mask"]
    gifts = gifts_given(gift_schedules(eta, obs, cap, n_actions), actions, others)  # [B, T, N, N-1]
    total = batch["own"] + received(gifts, others)
    adv = advantages(discounted_returns(total, mask, gamma), mask)
    d = torch.distributions.Categorical(logits=mlp(theta, obs))
    m = mask[..., None]
    return (m * (d.log_prob(actions) * adv + ent_coef * d.entropy())).sum(1).mean(0).sum()


def updated_policies(theta, eta, batch, cap, n_actions, gamma, ent_coef, lr_actor, others) -> list[torch.Tensor]:
    """``theta_hat(eta)``: one plain policy-gradient ascent step of every agent, differentiable in ``eta``."""
    objective = policy_objective(theta, eta, batch, cap, n_actions, gamma, ent_coef, others)
    grads = torch.autograd.grad(objective, theta, create_graph=True)
    return [p + lr_actor * g for p, g in zip(theta, grads, strict=True)]


def incentive_objectives(theta_hat, batch_hat, gamma) -> torch.Tensor:
    """``[N]``: agent i's extrinsic-return surrogate ``E[sum_t sum_j log pi_hat_j(a_j) (G^i_t - b_t)]`` on tau_hat."""
    obs, actions, mask = batch_hat["obs"], batch_hat["actions"], batch_hat["mask"]
    adv = advantages(discounted_returns(batch_hat["own"], mask, gamma), mask)  # [B, T, N] (giver i)
    logp = torch.distributions.Categorical(logits=mlp(theta_hat, obs)).log_prob(actions)  # [B, T, N] (learner j)
    joint = (logp * mask[..., None]).sum(-1, keepdim=True)  # sum_j log pi_j
    return (joint * adv).sum(1).mean(0)


def incentive_gradients(theta_hat, eta, batch_hat, gamma) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Gradient of each agent i's incentive objective w.r.t. its *own* ``eta_i`` (stacked over i like ``eta``).

    ``theta_hat`` must be the output of :func:`updated_policies` (a graph through ``eta``).
    """
    objectives = incentive_objectives(theta_hat, batch_hat, gamma)
    n = objectives.shape[0]
    grads = [torch.zeros_like(p) for p in eta]
    for i in range(n):
        gi = torch.autograd.grad(objectives[i], eta, retain_graph=i < n - 1, allow_unused=True)
        for g_all, g in zip(grads, gi, strict=True):
            if g is not None:
                g_all[i] = g[i]
    return grads, objectives.detach()


def gift_cost(eta, batch, cap, n_actions, gamma, others) -> torch.Tensor:
    """``[N]``: L1 cost of what each agent gave in ``batch``, discounted, mean over episodes."""
    gifts = gifts_given(gift_schedules(eta, batch["obs"], cap, n_actions), batch["actions"], others).sum(-1)
    discount = gamma ** torch.arange(gifts.shape[1], dtype=gifts.dtype)
    return (gifts * batch["mask"][..., None] * discount[None, :, None]).sum(1).mean(0)


def episode_stats(batch: dict) -> dict[str, float]:
    mask = batch["mask"][..., None].double()
    extrinsic = (batch["own"].double() * mask).sum(1)  # [B, N]
    gifts = (batch["gifts"].sum(-1) * mask).sum(1)
    out = {
        "collective_extrinsic": float(extrinsic.sum(-1).mean()),
        "gifts_total": float(gifts.sum(-1).mean()),
        "steps": float(batch["mask"].sum(1).mean()),
        "lever": float(np.mean(batch["lever"])),
        "door_open": float(np.mean(batch["door_open"])),
        "cooperation": float(batch["cooperation"]),
    }
    out.update({f"extrinsic_agent_{i}": float(x) for i, x in enumerate(extrinsic.mean(0))})
    out.update({f"gifts_given_agent_{i}": float(x) for i, x in enumerate(gifts.mean(0))})
    return out


def env_kwargs(args: Args) -> dict:
    kwargs: dict = {"incentives": "peer"}
    if "escape_room" in args.env_id:
        kwargs.update(n_agents=args.n_agents, min_at_lever=args.min_at_lever)
    elif "prisoners_dilemma" not in args.env_id:
        raise ValueError(f"LIO runs on escape_room-v1 or prisoners_dilemma-v1 (peer variants), got {args.env_id!r}")
    if args.incentive_cap is not None:
        kwargs["incentive_cap"] = args.incentive_cap
    return kwargs


def exact_metrics(game, final: dict[str, float]) -> dict[str, float]:
    """The collective extrinsic return as a fraction of the exact optimum (``contract_envs.solvers``)."""
    if game.name == "escape_room":
        best = escape_room_max_welfare(game.n_agents, game.min_at_lever, game.door_reward, game.move_cost)
        return {"extrinsic_fraction_of_optimum": final["collective_extrinsic"] / best}
    r, _, _, p = (float(x) for x in game.payoff.reshape(-1))
    return {"welfare_normalised": (final["collective_extrinsic"] - 2 * p * game.horizon) / (2 * (r - p) * game.horizon)}


def evaluate(args: Args, theta: list[torch.Tensor], eta: list[torch.Tensor]) -> dict[str, float]:
    """The final evaluation (fresh seeds, policies sampled) plus the exact scores."""
    torch.manual_seed(args.seed + 10_000_000)  # the sampled actions, the same after training and from a checkpoint
    env = contract_envs.vector.make(
        args.env_id, args.eval_episodes, seed=args.seed + 10_000_000, autoreset=False, **env_kwargs(args)
    )
    cap = float(env.game.peer_terms.payment_cap)
    final = episode_stats(rollout(env, [p.detach() for p in theta], [p.detach() for p in eta], cap))
    return {**final, **exact_metrics(env.game, final)}


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


def load_checkpoint(path: str) -> tuple[Args, list[torch.Tensor], list[torch.Tensor]]:
    """``(args, theta, eta)`` from a ``model.pt``."""
    saved = torch.load(path, weights_only=False)
    args = Args(**{k: tuple(v) if isinstance(v, list) else v for k, v in saved["args"].items()})
    theta, eta = (saved["state_dicts"][k] for k in ("theta", "eta"))
    return args, [theta[str(i)] for i in range(len(theta))], [eta[str(i)] for i in range(len(eta))]


def evaluate_checkpoint(cli: Args) -> dict:
    """``--eval-checkpoint``: evaluate a saved model and write ``metrics.json`` with ``eval`` in a new run folder."""
    saved_args, theta, eta = load_checkpoint(cli.eval_checkpoint)
    defaults = Args()
    given = {k: getattr(cli, k) for k in EVAL_OPTIONS if getattr(cli, k) != getattr(defaults, k)}
    args = Args(**{**asdict(saved_args), **given, "eval_checkpoint": cli.eval_checkpoint, "save_model": False})
    start = time.time()
    final = evaluate(args, theta, eta)
    run_dir = make_run_dir(args)
    evaluation = {"checkpoint": cli.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps({"run_dir": run_dir, "eval": evaluation}))
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint is not None:
        return evaluate_checkpoint(args)
    kwargs = env_kwargs(args)
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
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic

    env = contract_envs.vector.make(args.env_id, args.num_envs, seed=args.seed, autoreset=False, **kwargs)
    g = env.game
    n, n_actions, cap = g.n_agents, g.n_actions, float(g.peer_terms.payment_cap)
    cost_coef = args.cost_coef if args.cost_coef is not None else (0.0 if "prisoners" in args.env_id else 1.0)
    obs_dim = int(np.prod(env.observation_space("agent_0").shape))
    others = torch.as_tensor(others_index(n))
    theta = init_mlp(n, [obs_dim, *args.policy_hidden, n_actions])
    # incentive outputs start near sigmoid(-2) * cap (small gifts), as LIO's sigmoid outputs start mid-range
    eta = init_mlp(n, [obs_dim, *args.incentive_hidden, (n - 1) * n_actions], last_scale=0.1, last_bias=-2.0)
    reward_opt = torch.optim.Adam(eta, lr=args.lr_reward)
    cost_opt = torch.optim.Adam(eta, lr=args.lr_cost)
    hp = (cap, n_actions, args.gamma)

    start, history = time.time(), []
    progress = trange(args.num_iterations, desc=run_name[:40])
    for it in progress:
        batch = rollout(env, theta, eta, cap)
        theta_hat = updated_policies(
            theta, eta, batch, cap, n_actions, args.gamma, args.ent_coef, args.lr_actor, others
        )
        batch_hat = rollout(env, [p.detach() for p in theta_hat], eta, cap)
        grads, objectives = incentive_gradients(theta_hat, eta, batch_hat, args.gamma)
        reward_opt.zero_grad()
        for p, gr in zip(eta, grads, strict=True):
            p.grad = -gr  # ascend each agent's own extrinsic objective
        reward_opt.step()
        if cost_coef > 0:
            cost_opt.zero_grad()
            (cost_coef * gift_cost(eta, batch, *hp, others).sum()).backward()
            cost_opt.step()
        theta = [p.detach().clone().requires_grad_() for p in theta_hat]
        if it % args.log_every == 0 or it == args.num_iterations - 1:
            stats = episode_stats(batch_hat)
            episodes = 2 * (it + 1) * args.num_envs
            history.append({"step": it, "episodes": float(episodes), **stats})
            for key, value in stats.items():
                writer.add_scalar(f"charts/{key}", value, episodes)
            writer.add_scalar("charts/SPS", episodes / (time.time() - start), episodes)
            progress.set_postfix(extrinsic=f"{stats['collective_extrinsic']:.2f}", gifts=f"{stats['gifts_total']:.2f}")
    train_seconds = time.time() - start

    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        state = {"theta": {str(i): p.detach() for i, p in enumerate(theta)}}
        state["eta"] = {str(i): p.detach() for i, p in enumerate(eta)}
        torch.save({"args": asdict(args), "state_dicts": state}, model_path)
        _, theta, eta = load_checkpoint(model_path)
        print(f"model saved to {model_path} and reloaded for the evaluation")

    final = evaluate(args, theta, eta)
    final.update(
        train_seconds=train_seconds, episodes=float(2 * args.num_iterations * args.num_envs), cost_coef=cost_coef
    )
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    print(json.dumps({"run_dir": run_dir, "final": metrics["final"]}))
    writer.close()
    return metrics


if __name__ == "__main__":
    torch.set_num_threads(1)
    main(tyro.cli(Args, description=__doc__))
