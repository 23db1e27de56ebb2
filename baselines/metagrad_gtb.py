"""Meta-gradient tax design on Gather-Trade-Build (MetaGrad, Yang et al. AAMAS 2022), with shared-parameter PPO agents.

The designer is a network of the planner's observation whose sigmoid outputs are the 7 bracket rates, set at
each tax period's first step. Per iteration (A's `m1` with PPO agents, `id_foundation_ppo.py`):

1. the batch `tau_k` of episodes is played by the agents `theta` and the designer `eta`;
2. the agents' rewards on `tau_k` are recomputed in torch as a function of `eta`: the taxes
   `min(coin in hand, due(income, rates(eta)))`, the lump sums, each agent's coin after every period and its
   isoelastic utility (the economy's incomes, labour and trades are those recorded); with the agents' critic
   fixed, their GAE advantages `A(eta)` give one differentiable Adam step of their policy-gradient loss,
   `theta_hat(eta)` (the moments from earlier steps are constants, the current gradient is in the graph);
3. the agents then take their PPO update on `tau_k` (several epochs, as `ppo_shared.py`), and play the next
   batch `tau_hat` ("online cross-validation"; it is `tau_{k+1}`);
4. the designer ascends `sum_i log pi_{theta_hat_i(eta)}(a | o) * A^ID` on `tau_hat`, `A^ID` the GAE advantages
   of its reward (the change of equality x mean coin) under its own critic, trained alongside.

Deviations from A: many episodes per iteration (`--num-envs`, the batched API) instead of one; the agents'
real update is the PPO update of step 3 (A's agents take the single Adam step of step 2), the meta-gradient
still goes through that single step; no LSTM critic; rates are not capped (A's `cap_tax_rate=False`);
optional Gaussian exploration noise on the rate logits (A: `use_noise=False`, off by default here too).

Scored by productivity x equality at the end of an episode, evaluated on held-out environment seeds with the
designer's deterministic rates; `step` in the history counts environment steps.

Fastest meaningful command (small map, a few minutes on one core):

    PYTHONPATH=. python baselines/metagrad_gtb.py --env-kwargs '{"preset": "small"}' --total-timesteps 100000
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm import tqdm

import contract_envs
import contract_envs.vector
from contract_envs.registry import spec

PRINCIPAL = "principal_0"


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment (the run folder starts with it)"""
    seed: int = 1
    """seed of the experiment (networks, sampling; environment b of the batch is seeded seed + b)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda is used when available"""
    track: bool = False
    """if toggled, this experiment is tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the agents and the designer to `model.pt` in the run folder"""
    runs_dir: str = "runs"
    """where run folders (TensorBoard events, metrics.json, model.pt) go"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the CLI's, except the evaluation options) and exit"""
    init_checkpoint: str | None = None
    """start the agents from this `model.pt` (e.g. `ppo_shared.py`'s free-market phase 1)"""
    torch_threads: int = 1
    """torch intra-op threads (the benchmark machine has 2 shared cores)"""

    # environment
    env_id: str = "contract_envs/gather_trade_build-v0"
    """Gather-Trade-Build"""
    env_kwargs: str = '{"preset": "small"}'
    """JSON object of the game's keyword arguments"""

    # agents (PPO, as ppo_shared.py)
    total_timesteps: int = 200_000
    """environment steps of training (rounds x environments)"""
    num_envs: int = 32
    """environments stepped in lockstep (episodes per iteration)"""
    learning_rate: float = 3e-4
    """Adam step size of the agents (also the step of their differentiable update)"""
    anneal_lr: bool = True
    """anneal the agents' learning rate linearly to 0"""
    gamma: float = 0.99
    """discount factor of agents and designer"""
    gae_lambda: float = 0.95
    """GAE lambda of agents and designer"""
    num_minibatches: int = 4
    """minibatches per epoch of the agents' PPO update"""
    update_epochs: int = 4
    """epochs of the agents' PPO update"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient"""
    ent_coef: float = 0.05
    """agents' entropy bonus (as ppo_shared.py)"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm (agents)"""
    energy_warmup_episodes: float = 0.0
    """labour-cost warm-up as in ppo_shared.py (0: none)"""

    # designer
    designer_lr: float = 1e-3
    """Adam step size of the designer's meta-gradient"""
    designer_critic_lr: float = 1e-3
    """Adam step size of the designer's critic"""
    designer_init_bias: float = -2.0
    """initial bias of the rate logits (-2: rates start near 0.12)"""
    designer_noise: float = 0.0
    """std of Gaussian noise on the rate logits while training (0: deterministic rates, A's setting)"""
    designer_grad_clip: float = 10.0
    """gradient clipping norm of the designer"""
    meta_samples: int = 4096
    """agent transitions per iteration in the differentiable step (a random subset of tau_k; all if larger)"""

    # evaluation
    num_eval_episodes: int = 64
    """episodes of the final evaluation (sampled agent actions, deterministic rates) on held-out seeds"""
    eval_seed: int = 10_000
    """first environment seed of the evaluation (training uses seed, seed + 1, ...)"""


# ----------------------------------------------------------------------------- networks
def layer_init(layer: nn.Module, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Trunk(nn.Module):
    """CNN (2 x [6 filters 5x5]) over the map, concatenated with the flat features, then 2 x 128 (A's agent)."""

    def __init__(self, map_shape: tuple[int, int, int], flat_dim: int, hidden: int = 128) -> None:
        super().__init__()
        c, h, w = map_shape
        k1 = min(5, h, w)
        k2 = min(5, h - k1 + 1, w - k1 + 1)
        self.conv = nn.Sequential(
            layer_init(nn.Conv2d(c, 6, k1)), nn.ReLU(), layer_init(nn.Conv2d(6, 6, k2)), nn.ReLU(), nn.Flatten()
        )
        width = flat_dim + 6 * (h - k1 - k2 + 2) * (w - k1 - k2 + 2)
        self.mlp = nn.Sequential(
            layer_init(nn.Linear(width, hidden)), nn.ReLU(), layer_init(nn.Linear(hidden, hidden)), nn.ReLU()
        )

    def forward(self, image: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
        return self.mlp(torch.cat([self.conv(image.float()), flat], dim=1))


class Agent(nn.Module):
    """The agents' shared actor-critic (the same network as ppo_shared.py, so its checkpoints load)."""

    def __init__(self, map_shape, flat_dim: int, n_actions: int) -> None:
        super().__init__()
        self.actor_trunk, self.critic_trunk = Trunk(map_shape, flat_dim), Trunk(map_shape, flat_dim)
        self.actor = layer_init(nn.Linear(128, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(128, 1), std=1.0)

    def value(self, image, flat) -> torch.Tensor:
        return self.critic(self.critic_trunk(image, flat)).squeeze(-1)

    def logits(self, image, flat, mask) -> torch.Tensor:
        return self.actor(self.actor_trunk(image, flat)).masked_fill(mask == 0, -1e8)

    def forward(self, image, flat, mask) -> torch.Tensor:
        return self.logits(image, flat, mask)

    def policy_parameters(self) -> list[nn.Parameter]:
        return list(self.actor_trunk.parameters()) + list(self.actor.parameters())


class Designer(nn.Module):
    """Rates ``sigmoid(logits)`` of the planner's observation, and the designer's critic."""

    def __init__(self, map_shape, flat_dim: int, n_rates: int, init_bias: float) -> None:
        super().__init__()
        self.trunk, self.critic_trunk = Trunk(map_shape, flat_dim), Trunk(map_shape, flat_dim)
        self.head = layer_init(nn.Linear(128, n_rates), std=0.01, bias=init_bias)
        self.critic = layer_init(nn.Linear(128, 1), std=1.0)

    def logits(self, image, flat) -> torch.Tensor:
        return self.head(self.trunk(image, flat))

    def value(self, image, flat) -> torch.Tensor:
        return self.critic(self.critic_trunk(image, flat)).squeeze(-1)


def functional_logits(agent: Agent, params: list[torch.Tensor], image, flat, mask) -> torch.Tensor:
    """The agents' logits with policy parameters ``params`` (the differentiable ``theta_hat``)."""
    names = [n for n, _ in agent.named_parameters() if n.startswith(("actor_trunk", "actor."))]
    return torch.func.functional_call(
        agent, dict(zip(names, params, strict=True)), (image, flat, mask), {}, strict=False
    )


# ----------------------------------------------------------------------------- the economy
class Economy:
    """The batched game and rollouts that record what the differentiable tax recursion needs."""

    def __init__(self, args: Args, num_envs: int, seed: int) -> None:
        self.env = contract_envs.vector.make(args.env_id, num_envs, seed=seed, **json.loads(args.env_kwargs))
        self.game = g = self.env.game
        if g.name != "gather_trade_build":
            raise ValueError(f"metagrad_gtb.py designs taxes for Gather-Trade-Build, got {args.env_id}")
        if g.horizon % g.period:
            raise ValueError(f"the horizon ({g.horizon}) must be a multiple of the tax period ({g.period})")
        self.num_envs, self.agents, self.n = num_envs, list(self.env.agents), g.n_agents
        self.obs, _ = self.env.reset(seed=seed)
        first = self.obs[self.agents[0]]["observation"]
        self.map_shape, self.flat_dim = first["map"].shape[1:], first["flat"].shape[1]
        self.designer_map_shape = self.obs[PRINCIPAL]["map"].shape[1:]
        self.designer_flat_dim = self.obs[PRINCIPAL]["flat"].shape[1]

    def agent_inputs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b, n = self.num_envs, self.n
        image = np.stack([self.obs[a]["observation"]["map"] for a in self.agents], 1).reshape(b * n, *self.map_shape)
        flat = np.stack([self.obs[a]["observation"]["flat"] for a in self.agents], 1).reshape(b * n, -1)
        mask = np.stack([self.obs[a]["action_mask"] for a in self.agents], 1).reshape(b * n, -1)
        return image, flat, mask

    def rollout(self, agent: Agent, designer: Designer, noise: float, device, rng: np.random.Generator) -> dict:
        """One episode per environment (the batch starts and ends episodes together)."""
        g, b, n = self.game, self.num_envs, self.n
        keys = ("image", "flat", "mask", "action", "logp", "value", "reward", "coin", "labour", "d_reward")
        rec: dict = {k: [] for k in (*keys, "d_image", "d_flat", "noise", "tax", "lump", "in_hand")}
        state = self.env.state
        rec["coin0"] = state.inventory[:, :, 0] + state.escrow[:, :, 0]
        rates = np.zeros((b, len(g.cutoffs)), dtype=np.float32)
        for t in range(g.horizon):
            if t % g.period == 0:  # the designer sets the period's rates from its observation
                d_image, d_flat = self.obs[PRINCIPAL]["map"], self.obs[PRINCIPAL]["flat"]
                with torch.no_grad():
                    z = designer.logits(torch.as_tensor(d_image, device=device), torch.as_tensor(d_flat, device=device))
                eps = rng.normal(0.0, noise, tuple(z.shape)).astype(np.float32) if noise > 0 else np.zeros(z.shape)
                rates = (1.0 / (1.0 + np.exp(-(z.cpu().numpy() + eps)))).astype(np.float32)
                rec["d_image"].append(d_image)
                rec["d_flat"].append(d_flat)
                rec["noise"].append(eps.astype(np.float32))
            image, flat, mask = self.agent_inputs()
            with torch.no_grad():
                img_t, flat_t = torch.as_tensor(image, device=device), torch.as_tensor(flat, device=device)
                dist = torch.distributions.Categorical(logits=agent.logits(img_t, flat_t, torch.as_tensor(mask)))
                action = dist.sample()
                rec["logp"].append(dist.log_prob(action).cpu().numpy())
                rec["value"].append(agent.value(img_t, flat_t).cpu().numpy())
            for k, v in (("image", image), ("flat", flat), ("mask", mask), ("action", action.cpu().numpy())):
                rec[k].append(v)
            moves = {a: rec["action"][-1].reshape(b, n)[:, i] for i, a in enumerate(self.agents)}
            self.obs, rewards, _, _, infos = self.env.step({**moves, PRINCIPAL: rates})

            def agent_info(key: str, infos: dict = infos) -> np.ndarray:
                return np.stack([infos[a][key] for a in self.agents], 1)

            rec["reward"].append(np.stack([rewards[a] for a in self.agents], 1))
            rec["d_reward"].append(rewards[PRINCIPAL])
            rec["coin"].append(agent_info("coin"))  # infos are taken before an auto-reset
            rec["labour"].append(agent_info("labour"))
            if (t + 1) % g.period == 0:
                rec["tax"].append(agent_info("tax_paid"))
                rec["lump"].append(infos[self.agents[0]]["lump_sum"])
                rec["in_hand"].append(agent_info("coin_in_hand"))
        out = {k: np.asarray(v) for k, v in rec.items()}
        out["final"] = {
            k: infos[PRINCIPAL][k].copy() for k in ("equality_times_productivity", "productivity", "equality")
        }
        out["last_value"] = np.zeros(b * n, np.float32)  # every episode ends with the batch
        return out


def bracket_tax(income: torch.Tensor, rates: torch.Tensor, cutoffs: torch.Tensor) -> torch.Tensor:
    """Tax due on ``income [B, N]`` at ``rates [B, K]`` above ``cutoffs [K]``."""
    sizes = torch.cat([cutoffs[1:] - cutoffs[:-1], torch.tensor([float("inf")], dtype=cutoffs.dtype)])
    return (torch.minimum(torch.clamp(income.unsqueeze(-1) - cutoffs, min=0.0), sizes) * rates.unsqueeze(1)).sum(-1)


def rewards_under(rates: torch.Tensor, batch: dict, game, energy_share: float) -> torch.Tensor:
    """The agents' rewards ``[T, B, N]`` on a recorded batch if the periods' rates had been ``rates [J, B, K]``.

    The economy's incomes, labour, trades and coin in hand before taxes are those recorded; each period's taxes
    ``min(coin in hand, due)``, the lump sums and every later coin balance follow from ``rates``."""
    f64 = torch.float64
    cutoffs = torch.as_tensor(game.cutoffs, dtype=f64)
    coin_rec = torch.as_tensor(batch["coin"], dtype=f64)  # [T, B, N] after each step's taxes
    tax_rec, lump_rec = torch.as_tensor(batch["tax"], dtype=f64), torch.as_tensor(batch["lump"], dtype=f64)
    in_hand = torch.as_tensor(batch["in_hand"], dtype=f64)  # [J, B, N] after the period's taxes
    period, horizon = game.period, game.horizon
    correction = torch.zeros_like(coin_rec[0])  # change of the balances since the last collection
    shifts = []
    previous = torch.as_tensor(batch["coin0"], dtype=f64)
    for j in range(horizon // period):
        end = (j + 1) * period - 1
        before = coin_rec[end] + tax_rec[j] - lump_rec[j][:, None]  # endowment before the period's taxes
        income = before - previous  # does not depend on the rates: measured from the last collection
        hand = in_hand[j] + tax_rec[j] - lump_rec[j][:, None] + correction
        tax = torch.minimum(hand, bracket_tax(income, rates[j].to(f64), cutoffs))
        delta = (tax.mean(1, keepdim=True) - tax) - (lump_rec[j][:, None] - tax_rec[j])
        shifts += [correction.unsqueeze(0).expand(period - 1, -1, -1), (correction + delta).unsqueeze(0)]
        correction = correction + delta  # applies from the period's last step on
        previous = coin_rec[end]
    coin = coin_rec + torch.cat(shifts)  # [T, B, N]
    labour = torch.as_tensor(batch["labour"], dtype=f64)
    cost = game.energy_cost * (1.0 - energy_share)
    utility = (coin.clamp_min(1e-9) ** (1 - game.eta) - 1) / (1 - game.eta) - cost * labour
    coin0 = torch.as_tensor(batch["coin0"], dtype=f64)
    u0 = (coin0 ** (1 - game.eta) - 1) / (1 - game.eta)
    return torch.diff(torch.cat([u0.unsqueeze(0), utility]), dim=0).float()


# ----------------------------------------------------------------------------- learning
def gae(rewards: torch.Tensor, values: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """GAE over the time axis 0 of episodes that all end at the last step (differentiable in ``rewards``)."""
    out, running = [], torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        next_value = values[t + 1] if t + 1 < rewards.shape[0] else torch.zeros_like(values[t])
        delta = rewards[t] + gamma * next_value - values[t]
        running = delta + gamma * lam * running
        out.append(running)
    return torch.stack(out[::-1])


def designer_rates(designer: Designer, batch: dict, device) -> torch.Tensor:
    """The periods' rates ``[J, B, K]`` of the recorded batch as a function of the designer's parameters."""
    j, b = batch["d_flat"].shape[:2]
    image = torch.as_tensor(batch["d_image"], device=device).reshape(j * b, *batch["d_image"].shape[2:])
    flat = torch.as_tensor(batch["d_flat"], device=device).reshape(j * b, -1)
    z = designer.logits(image, flat).reshape(j, b, -1) + torch.as_tensor(batch["noise"], device=device)
    return torch.sigmoid(z)


class InGraphAdam:
    """One Adam step of the agents' policy whose result stays a function of the current gradient (A's m1: the
    moments of earlier steps are constants; the squared gradient enters the second moment without gradient)."""

    def __init__(self, params: list[torch.Tensor], betas=(0.9, 0.999), eps: float = 1e-8) -> None:
        self.m = [torch.zeros_like(p) for p in params]
        self.v = [torch.zeros_like(p) for p in params]
        self.betas, self.eps, self.steps = betas, eps, 0

    def step(self, params, grads, lr: float) -> list[torch.Tensor]:
        b1, b2 = self.betas
        t = self.steps + 1
        out = []
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m_new = b1 * m + (1 - b1) * g
            v_new = b2 * v + (1 - b2) * g.detach() ** 2
            out.append(p - lr * (m_new / (1 - b1**t)) / ((v_new / (1 - b2**t)).sqrt() + self.eps))
        return out

    def commit(self, grads) -> None:
        b1, b2 = self.betas
        self.steps += 1
        self.m = [b1 * m + (1 - b1) * g.detach() for m, g in zip(self.m, grads, strict=True)]
        self.v = [b2 * v + (1 - b2) * g.detach() ** 2 for v, g in zip(self.v, grads, strict=True)]


def flatten_batch(batch: dict, device) -> dict[str, torch.Tensor]:
    t, rows = batch["action"].shape
    return {
        "image": torch.as_tensor(batch["image"].reshape(t * rows, *batch["image"].shape[2:]), device=device),
        "flat": torch.as_tensor(batch["flat"].reshape(t * rows, -1), device=device),
        "mask": torch.as_tensor(batch["mask"].reshape(t * rows, -1), device=device),
        "action": torch.as_tensor(batch["action"].reshape(-1), device=device),
        "logp": torch.as_tensor(batch["logp"].reshape(-1), device=device),
        "value": torch.as_tensor(batch["value"].reshape(-1), device=device),
    }


def ppo_update(args: Args, agent: Agent, optimizer, flat: dict, advantages: np.ndarray, returns: np.ndarray) -> dict:
    """The agents' PPO update (as ppo_shared.py) on one batch."""
    size = len(advantages)
    minibatch = size // args.num_minibatches
    adv_all, ret_all = torch.as_tensor(advantages), torch.as_tensor(returns)
    for _ in range(args.update_epochs):
        order = torch.randperm(size)
        for lo in range(0, size, minibatch):
            idx = order[lo : lo + minibatch]
            dist = torch.distributions.Categorical(
                logits=agent.logits(flat["image"][idx], flat["flat"][idx], flat["mask"][idx])
            )
            ratio = (dist.log_prob(flat["action"][idx]) - flat["logp"][idx]).exp()
            adv = adv_all[idx]
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            pg = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
            value = agent.value(flat["image"][idx], flat["flat"][idx])
            old = flat["value"][idx]
            clipped = old + (value - old).clamp(-args.clip_coef, args.clip_coef)
            v_loss = 0.5 * torch.max((value - ret_all[idx]) ** 2, (clipped - ret_all[idx]) ** 2).mean()
            loss = pg - args.ent_coef * dist.entropy().mean() + args.vf_coef * v_loss
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
            optimizer.step()
    return {"value_loss": float(v_loss.detach()), "entropy": float(dist.entropy().mean().detach())}


def train(args: Args, writer: SummaryWriter, device) -> tuple[dict, list[dict], Agent, Designer]:
    economy = Economy(args, args.num_envs, args.seed)
    g, b, n = economy.game, args.num_envs, economy.n
    agent = Agent(economy.map_shape, economy.flat_dim, g.n_actions).to(device)
    if args.init_checkpoint:
        agent.load_state_dict(torch.load(args.init_checkpoint, weights_only=False)["state_dicts"]["agent"])
    designer = Designer(economy.designer_map_shape, economy.designer_flat_dim, len(g.cutoffs), args.designer_init_bias)
    designer = designer.to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    meta_opt = torch.optim.Adam(list(designer.trunk.parameters()) + list(designer.head.parameters()), args.designer_lr)
    critic_opt = torch.optim.Adam(
        list(designer.critic_trunk.parameters()) + list(designer.critic.parameters()), args.designer_critic_lr
    )
    policy_params = agent.policy_parameters()
    in_graph = InGraphAdam(policy_params)
    rng = np.random.default_rng(args.seed)
    iterations = max(1, args.total_timesteps // (g.horizon * b))
    batch = economy.rollout(agent, designer, args.designer_noise, device, rng)  # tau_0
    history, episodes, start = [], b, time.time()
    for it in tqdm(range(1, iterations + 1), desc="metagrad_gtb", disable=None):
        lr = args.learning_rate * ((1.0 - (it - 1.0) / iterations) if args.anneal_lr else 1.0)
        optimizer.param_groups[0]["lr"] = lr
        share = float(np.exp(-episodes / args.energy_warmup_episodes)) if args.energy_warmup_episodes > 0 else 0.0
        # 2. the agents' rewards on tau_k as a function of eta, and their differentiable policy-gradient step
        rates = designer_rates(designer, batch, device)
        rewards = rewards_under(rates, batch, g, share).reshape(g.horizon, b * n)
        values = torch.as_tensor(batch["value"])
        advantages = gae(rewards, values, args.gamma, args.gae_lambda)
        flat = flatten_batch(batch, device)
        rows = torch.randperm(g.horizon * b * n)[: args.meta_samples]
        adv_rows = advantages.reshape(-1)[rows]
        adv_rows = (adv_rows - adv_rows.mean()) / (adv_rows.std() + 1e-8)
        theta = [p.detach().clone().requires_grad_() for p in policy_params]  # PPO below changes the originals
        logits = functional_logits(agent, theta, flat["image"][rows], flat["flat"][rows], flat["mask"][rows])
        dist = torch.distributions.Categorical(logits=logits)
        pg_loss = -(dist.log_prob(flat["action"][rows]) * adv_rows).mean() - args.ent_coef * dist.entropy().mean()
        grads = torch.autograd.grad(pg_loss, theta, create_graph=True)
        theta_hat = in_graph.step(theta, grads, lr)
        in_graph.commit(grads)
        # 3. the agents' PPO update on tau_k (with the rewards they received), then tau_hat
        labour = np.concatenate([np.zeros_like(batch["labour"][:1]), batch["labour"]])
        received = batch["reward"] + share * g.energy_cost * np.diff(labour, axis=0)  # the labour warm-up's give-back
        received = torch.as_tensor(received.reshape(g.horizon, b * n)).float()
        with torch.no_grad():
            adv_np = gae(received, values, args.gamma, args.gae_lambda)
        adv_np = adv_np.reshape(-1).numpy()
        stats = ppo_update(args, agent, optimizer, flat, adv_np, adv_np + batch["value"].reshape(-1))
        new = economy.rollout(agent, designer, args.designer_noise, device, rng)
        episodes += b
        # 4. the designer's meta-gradient on tau_hat through theta_hat(eta), with its critic's advantages
        d_obs = (
            torch.as_tensor(new["d_image"]).reshape(-1, *new["d_image"].shape[2:]),
            torch.as_tensor(new["d_flat"]).reshape(-1, new["d_flat"].shape[-1]),
        )
        period_reward = torch.as_tensor(new["d_reward"].reshape(-1, g.period, b).sum(1))  # [J, B]
        d_values = designer.value(*d_obs).reshape(period_reward.shape)
        d_adv = gae(period_reward.float(), d_values.detach(), args.gamma**g.period, args.gae_lambda)
        d_return = d_adv + d_values.detach()
        critic_loss = 0.5 * ((d_values - d_return) ** 2).mean()
        critic_opt.zero_grad()
        critic_loss.backward()
        critic_opt.step()
        step_adv = d_adv.repeat_interleave(g.period, dim=0)  # [T, B]: each step gets its period's advantage
        step_adv = (step_adv - step_adv.mean()) / (step_adv.std() + 1e-8)
        new_flat = flatten_batch(new, device)
        pick = torch.randperm(g.horizon * b)[: max(1, args.meta_samples // n)]  # (t, b) pairs; all agents of each
        sel = (pick.unsqueeze(1) * n + torch.arange(n)).reshape(-1)
        logits = functional_logits(
            agent, theta_hat, new_flat["image"][sel], new_flat["flat"][sel], new_flat["mask"][sel]
        )
        logp = torch.distributions.Categorical(logits=logits).log_prob(new_flat["action"][sel]).reshape(-1, n).sum(1)
        meta_loss = -(logp * step_adv.reshape(-1)[pick]).mean()
        meta_opt.zero_grad()
        meta_loss.backward()
        nn.utils.clip_grad_norm_(designer.parameters(), args.designer_grad_clip)
        meta_opt.step()
        agent.zero_grad()
        batch = new
        row = {
            "step": it * g.horizon * b,
            "episodes": episodes,
            **stats,
            "designer_critic_loss": float(critic_loss.detach()),
        }
        row.update({k: float(np.mean(v)) for k, v in new["final"].items()})
        row["agent_return"] = float(new["reward"].sum(0).mean())
        mean_rates = rates.detach().mean((0, 1)).numpy()
        row.update({f"rate_{k}": float(r) for k, r in enumerate(mean_rates)})
        history.append(row)
        for k, v in row.items():
            if k != "step":
                writer.add_scalar(f"train/{k}", v, row["step"])
        writer.add_scalar("charts/SPS", int(row["step"] / (time.time() - start)), row["step"])
    final = {k: v for k, v in history[-1].items() if k not in ("step", "episodes")}
    return final, history, agent, designer


def evaluate(args: Args, agent: Agent, designer: Designer, device) -> dict[str, float]:
    """Sampled agent actions, the designer's deterministic rates, on held-out environment seeds."""
    economy = Economy(args, args.num_eval_episodes, args.eval_seed)
    batch = economy.rollout(agent, designer, 0.0, device, np.random.default_rng(args.eval_seed))
    out = {k: float(np.mean(v)) for k, v in batch["final"].items()}
    out["equality_times_productivity_std"] = float(np.std(batch["final"]["equality_times_productivity"]))
    out["agent_return"] = float(batch["reward"].sum(0).mean())
    coin = batch["coin"][-1]
    out["coin_min"], out["coin_max"] = float(coin.min(1).mean()), float(coin.max(1).mean())
    out["labour"] = float(batch["labour"][-1].mean())
    rates = 1.0 / (1.0 + np.exp(-_logits_np(designer, batch, device)))
    out.update({f"rate_{k}": float(r) for k, r in enumerate(rates.mean((0, 1)))})
    return out


def _logits_np(designer: Designer, batch: dict, device) -> np.ndarray:
    with torch.no_grad():
        return (designer_rates(designer, batch, device).logit()).cpu().numpy()


# ----------------------------------------------------------------------------- run folder, metrics, main
def run_folder(args: Args) -> str:
    stamp = int(time.time())
    while True:  # two runs started in the same second get consecutive stamps
        path = os.path.join(args.runs_dir, f"{args.exp_name}__{spec(args.env_id).name}__{args.seed}__{stamp}")
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            stamp += 1


def write_metrics(path: str, args: Args, final: dict, history: list, seconds: float, evaluation) -> dict:
    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": os.path.basename(__file__)[: -len(".py")],
        "env_id": spec(args.env_id).id,
        "env_kwargs": json.loads(args.env_kwargs),
        "seed": args.seed,
        "args": dataclasses.asdict(args),
        "final": final,
        "history": history,
        "wall_clock_s": seconds,
        "versions": {
            "contract_envs": contract_envs.__version__,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "torch": torch.__version__,
        },
        "eval": evaluation,
    }
    with open(os.path.join(path, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
    return metrics


def held_out(evaluation: dict) -> dict:
    """The evaluation on held-out environment seeds, as ``final``'s ``eval_*`` entries."""
    return {f"eval_{k}": float(v) for k, v in evaluation.items()}


EVAL_OPTIONS = ("num_eval_episodes", "eval_seed", "cuda", "runs_dir", "eval_checkpoint", "torch_threads")


def main(args: Args) -> dict:
    saved = None
    if args.eval_checkpoint:
        saved = torch.load(args.eval_checkpoint, map_location="cpu", weights_only=False)
        given = dataclasses.asdict(args)
        args = Args(**{**saved["args"], **{k: given[k] for k in EVAL_OPTIONS}})
    torch.set_num_threads(args.torch_threads)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    path = run_folder(args)
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=dataclasses.asdict(args),
            name=os.path.basename(path),
            save_code=True,
        )
    writer = SummaryWriter(path)
    table = "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
    start = time.time()
    if saved is not None:
        probe = Economy(args, 1, args.seed)
        agent = Agent(probe.map_shape, probe.flat_dim, probe.game.n_actions)
        designer = Designer(probe.designer_map_shape, probe.designer_flat_dim, 7, args.designer_init_bias)
        agent.load_state_dict(saved["state_dicts"]["agent"])
        designer.load_state_dict(saved["state_dicts"]["designer"])
        evaluation = evaluate(args, agent.to(device), designer.to(device), device)
        print(json.dumps(evaluation, indent=1))
        return write_metrics(
            path,
            args,
            held_out(evaluation),
            [],
            time.time() - start,
            {"checkpoint": args.eval_checkpoint, "final": evaluation},
        )
    final, history, agent, designer = train(args, writer, device)
    seconds = time.time() - start
    if args.save_model:
        state_dicts = {"agent": agent.state_dict(), "designer": designer.state_dict()}
        torch.save({"args": dataclasses.asdict(args), "state_dicts": state_dicts}, os.path.join(path, "model.pt"))
    evaluation = evaluate(args, agent, designer, device)
    for k, v in evaluation.items():
        writer.add_scalar(f"eval/{k}", v, history[-1]["step"])
    writer.close()
    metrics = write_metrics(path, args, {**final, **held_out(evaluation)}, history, seconds, None)
    print(json.dumps({"run": path, "train_seconds": round(seconds, 1), "eval": evaluation}, indent=1))
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
