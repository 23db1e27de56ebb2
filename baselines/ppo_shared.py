"""Shared-parameter PPO for the agents of a contract_envs game (CleanRL style), with a CNN over map observations.

One policy-and-value network is shared by all agents (the AI Economist's and the meta-gradient paper's agents):
every agent of every environment of the batch (`contract_envs.vector.make`) is a row of the same PPO batch.
Observations are read generically: an `action_mask` masks the logits; a 3-d array (Gather-Trade-Build's
egocentric `map`, the Coin Game's grid) goes through a CNN (two 5x5 convolutions of 6 filters, the papers'
agent), everything else is flattened into an MLP input; both feed two 128-unit layers, then the policy and the
value heads.

The principal is a plug-in (`--planner`): on Gather-Trade-Build a fixed tax planner (`free_market`,
`us_federal`, `saez`: the rules module's policies) or `dual_rl`, a second PPO learner whose action is the
7 bracket rates (a Gaussian over rate logits, squashed by a sigmoid) chosen at each tax period's first step and
rewarded by the change of equality x mean coin over the period (the meta-gradient paper's "dual-RL" baseline,
the AI Economist's two-level RL). On the other games `zero`: the principal offers nothing. Rates can be capped
by a factor annealed from `--rate-cap-start` to 1 over `--rate-cap-episodes` episodes (the papers' curriculum
for capped planners).

Scored by the agents' mean episode return and, on Gather-Trade-Build, by productivity x equality at the end of
an episode (`final`), with the trained policy evaluated on held-out environment seeds (`eval`). `step` in the
history counts environment steps (rounds x environments).

Fastest meaningful command (the agents learn to gather and build on the 7x7 map; a few minutes on one core):

    PYTHONPATH=. python baselines/ppo_shared.py --env-kwargs '{"preset": "small"}' --total-timesteps 100000 \
        --energy-warmup-episodes 1000
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
from gymnasium import spaces
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
    """whether to save the networks to `model.pt` in the run folder"""
    runs_dir: str = "runs"
    """where run folders (TensorBoard events, metrics.json, model.pt) go"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the CLI's, except the evaluation options) and exit"""
    init_checkpoint: str | None = None
    """start the agents (and a dual-RL planner) from this `model.pt`, e.g. phase 2 after free-market phase 1"""
    torch_threads: int = 1
    """torch intra-op threads (the benchmark machine has 2 shared cores)"""

    # environment
    env_id: str = "contract_envs/gather_trade_build-v0"
    """a registered id whose agents have discrete actions"""
    env_kwargs: str = '{"preset": "small"}'
    """JSON object of the game's keyword arguments"""
    planner: str = "free_market"
    """the principal: `free_market`, `us_federal`, `saez`, `dual_rl` (Gather-Trade-Build) or `zero` (any game)"""
    rate_cap_start: float = 1.0
    """tax rates are multiplied by a cap annealed linearly from this value to 1 (1: no cap)"""
    rate_cap_episodes: int = 0
    """episodes (per environment of the batch, summed) over which the rate cap reaches 1"""
    energy_warmup_episodes: float = 0.0
    """Gather-Trade-Build: the AI Economist's labour-cost warm-up: the agents' rewards give back a share
    exp(-episodes / this) of the labour cost (0: none); the reported returns are the game's"""

    # PPO
    total_timesteps: int = 200_000
    """environment steps of training (rounds x environments)"""
    num_envs: int = 32
    """environments stepped in lockstep"""
    num_steps: int | None = None
    """rounds per rollout and environment (default: the game's horizon, one episode per rollout)"""
    learning_rate: float = 3e-4
    """Adam step size of the agents' network"""
    anneal_lr: bool = True
    """anneal the learning rate linearly to 0"""
    gamma: float = 0.99
    """discount factor"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    num_minibatches: int = 4
    """minibatches per epoch"""
    update_epochs: int = 4
    """epochs per update"""
    clip_coef: float = 0.2
    """surrogate clipping coefficient"""
    ent_coef: float = 0.05
    """entropy bonus coefficient (0.05: chosen on tuning seed 1 of Gather-Trade-Build's small map; 0.01 lets the
    agents settle on doing nothing before they find houses)"""
    vf_coef: float = 0.5
    """value loss coefficient"""
    max_grad_norm: float = 0.5
    """gradient clipping norm"""
    agent_id: bool = False
    """append a one-hot agent index to the shared network's input"""

    # dual-RL planner
    planner_learning_rate: float = 3e-4
    """Adam step size of the dual-RL planner"""
    planner_ent_coef: float = 0.0
    """entropy bonus of the planner's Gaussian"""
    planner_init_std: float = 1.0
    """initial standard deviation of the planner's rate logits"""

    # evaluation
    num_eval_episodes: int = 64
    """episodes of the final evaluation (sampled actions), on environment seeds never used in training"""
    eval_seed: int = 10_000
    """first environment seed of the evaluation (training uses seed, seed + 1, ...)"""


# ----------------------------------------------------------------------------- observations
class ObservationReader:
    """Turns a player's (batched) observation into a map tensor, a flat vector and an action mask.

    `action_mask` masks the logits; under `observation` (or the whole observation) every 3-d Box is a map for the
    CNN (at most one), every other Box is flattened, every Discrete is one-hot coded."""

    def __init__(self, space: spaces.Space) -> None:
        self.has_mask = isinstance(space, spaces.Dict) and "action_mask" in space.spaces
        inner = space["observation"] if self.has_mask else space
        self.parts: list[tuple[tuple[str, ...], spaces.Space]] = list(self._leaves(inner, ()))
        maps = [(k, s) for k, s in self.parts if isinstance(s, spaces.Box) and len(s.shape) == 3]
        if len(maps) > 1:
            raise ValueError(f"at most one 3-d observation is supported, got {[k for k, _ in maps]}")
        self.map_key = maps[0][0] if maps else None
        self.map_shape = tuple(maps[0][1].shape) if maps else None
        self.flat_parts = [(k, s) for k, s in self.parts if k != self.map_key]
        self.flat_dim = sum(
            s.n if isinstance(s, spaces.Discrete) else int(np.prod(s.shape)) for _, s in self.flat_parts
        )

    def _leaves(self, space: spaces.Space, key: tuple[str, ...]):
        if isinstance(space, spaces.Dict):
            for k, sub in space.spaces.items():
                yield from self._leaves(sub, (*key, k))
        elif isinstance(space, (spaces.Box, spaces.Discrete)):
            yield key, space
        else:
            raise ValueError(f"unsupported observation space {space}")

    @staticmethod
    def _get(obs, key: tuple[str, ...]):
        for k in key:
            obs = obs[k]
        return obs

    def read(self, obs, batch: int) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """(map ``[B, C, H, W]`` or None, flat ``[B, F]`` float32, mask ``[B, A]`` or None) of one player's batch."""
        inner = obs["observation"] if self.has_mask else obs
        image = None if self.map_key is None else np.asarray(self._get(inner, self.map_key))
        flats = []
        for key, space in self.flat_parts:
            x = np.asarray(self._get(inner, key))
            if isinstance(space, spaces.Discrete):
                x = np.eye(space.n, dtype=np.float32)[x.reshape(batch) - space.start]
            flats.append(x.reshape(batch, -1).astype(np.float32))
        flat = np.concatenate(flats, axis=1) if flats else np.zeros((batch, 0), np.float32)
        return image, flat, (np.asarray(obs["action_mask"]) if self.has_mask else None)


# ----------------------------------------------------------------------------- networks
def layer_init(layer: nn.Module, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Module:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


class Trunk(nn.Module):
    """CNN (2 x [6 filters 5x5], the papers' agent) over the map, concatenated with the flat input, then 2 x 128."""

    def __init__(self, map_shape: tuple[int, ...] | None, flat_dim: int, hidden: int = 128) -> None:
        super().__init__()
        self.conv = None
        width = flat_dim
        if map_shape is not None:
            c, h, w = map_shape
            k1, k2 = min(5, h, w), min(5, h - min(5, h, w) + 1, w - min(5, h, w) + 1)
            self.conv = nn.Sequential(
                layer_init(nn.Conv2d(c, 6, k1)), nn.ReLU(), layer_init(nn.Conv2d(6, 6, k2)), nn.ReLU(), nn.Flatten()
            )
            width += 6 * (h - k1 - k2 + 2) * (w - k1 - k2 + 2)
        self.mlp = nn.Sequential(layer_init(nn.Linear(width, hidden)), nn.ReLU(), layer_init(nn.Linear(hidden, hidden)))
        self.mlp.append(nn.ReLU())

    def forward(self, image: torch.Tensor | None, flat: torch.Tensor) -> torch.Tensor:
        parts = [flat]
        if self.conv is not None:
            parts.insert(0, self.conv(image.float()))
        return self.mlp(torch.cat(parts, dim=1))


class Agent(nn.Module):
    """The shared actor-critic of all agents (separate trunks for the policy and the value)."""

    def __init__(self, map_shape, flat_dim: int, n_actions: int) -> None:
        super().__init__()
        self.actor_trunk, self.critic_trunk = Trunk(map_shape, flat_dim), Trunk(map_shape, flat_dim)
        self.actor = layer_init(nn.Linear(128, n_actions), std=0.01)
        self.critic = layer_init(nn.Linear(128, 1), std=1.0)

    def value(self, image, flat) -> torch.Tensor:
        return self.critic(self.critic_trunk(image, flat)).squeeze(-1)

    def distribution(self, image, flat, mask) -> torch.distributions.Categorical:
        logits = self.actor(self.actor_trunk(image, flat))
        if mask is not None:
            logits = logits.masked_fill(mask == 0, -1e8)
        return torch.distributions.Categorical(logits=logits)


class Planner(nn.Module):
    """Dual-RL planner: a Gaussian over rate logits (squashed by a sigmoid into the principal's Box), and a critic."""

    def __init__(self, map_shape, flat_dim: int, n_rates: int, init_std: float) -> None:
        super().__init__()
        self.actor_trunk, self.critic_trunk = Trunk(map_shape, flat_dim), Trunk(map_shape, flat_dim)
        self.mean = layer_init(nn.Linear(128, n_rates), std=0.01)
        self.log_std = nn.Parameter(torch.full((n_rates,), float(np.log(init_std))))
        self.critic = layer_init(nn.Linear(128, 1), std=1.0)

    def value(self, image, flat) -> torch.Tensor:
        return self.critic(self.critic_trunk(image, flat)).squeeze(-1)

    def distribution(self, image, flat) -> torch.distributions.Normal:
        mean = self.mean(self.actor_trunk(image, flat))
        return torch.distributions.Normal(mean, self.log_std.exp().expand_as(mean))


def to_torch(x: np.ndarray | None, device: torch.device) -> torch.Tensor | None:
    return None if x is None else torch.as_tensor(x, device=device)


# ----------------------------------------------------------------------------- the environment side
class Economy:
    """The batched environment, the agents' stacked observations and the plugged-in principal."""

    def __init__(self, args: Args, num_envs: int, seed: int, planner: Planner | None, device: torch.device) -> None:
        self.kwargs = json.loads(args.env_kwargs)
        self.env = contract_envs.vector.make(args.env_id, num_envs, seed=seed, **self.kwargs)
        env, game = self.env, self.env.game
        self.game, self.num_envs, self.device = game, num_envs, device
        self.agents = list(env.agents)
        self.n = len(self.agents)
        space = env.action_space(self.agents[0])
        if not isinstance(space, spaces.Discrete):
            raise ValueError(f"{args.env_id}: agents need Discrete actions, got {space}")
        self.n_actions = int(space.n)
        self.reader = ObservationReader(env.observation_space(self.agents[0]))
        self.agent_id = args.agent_id
        self.flat_dim = self.reader.flat_dim + (self.n if args.agent_id else 0)
        self.has_principal = PRINCIPAL in env.possible_agents
        self.is_gtb = game.name == "gather_trade_build"
        self.period = int(getattr(game, "period", 1))
        self.planner_name = args.planner
        self.planner_net = planner
        self.rate_cap = 1.0
        if self.has_principal:
            self.principal_space = env.action_space(PRINCIPAL)
            self.principal_reader = ObservationReader(env.observation_space(PRINCIPAL))
        if args.planner in ("free_market", "us_federal", "saez"):
            if not self.is_gtb:
                raise ValueError(f"--planner {args.planner} is a Gather-Trade-Build planner; use zero or dual_rl")
            from contract_envs.games.gather_trade_build import make_planner

            self.fixed_planner = make_planner(args.planner, game)
        elif args.planner == "dual_rl":
            if not self.has_principal or not isinstance(self.principal_space, spaces.Box):
                raise ValueError(f"{args.env_id}: --planner dual_rl needs a principal with a Box action")
        elif args.planner != "zero":
            raise ValueError(f"--planner must be free_market, us_federal, saez, dual_rl or zero, got {args.planner!r}")
        self.obs, _ = env.reset(seed=seed)
        self.planner_decision: dict | None = None  # the dual-RL planner's last decision (for its transitions)

    def agent_inputs(self, obs=None) -> tuple[np.ndarray | None, np.ndarray, np.ndarray | None]:
        """All agents' inputs stacked agent-major within each environment: rows ``b * N + i``."""
        obs = self.obs if obs is None else obs
        parts = [self.reader.read(obs[a], self.num_envs) for a in self.agents]
        image = None if parts[0][0] is None else np.stack([p[0] for p in parts], 1).reshape(-1, *self.reader.map_shape)
        flat = np.stack([p[1] for p in parts], 1)
        if self.agent_id:
            flat = np.concatenate(
                [flat, np.broadcast_to(np.eye(self.n, dtype=np.float32), (self.num_envs, self.n, self.n))], 2
            )
        mask = None if parts[0][2] is None else np.stack([p[2] for p in parts], 1).reshape(self.num_envs * self.n, -1)
        return image, flat.reshape(self.num_envs * self.n, -1), mask

    def principal_inputs(self) -> tuple[np.ndarray | None, np.ndarray]:
        image, flat, _ = self.principal_reader.read(self.obs[PRINCIPAL], self.num_envs)
        return image, flat

    def principal_move(self) -> tuple[np.ndarray, dict | None]:
        """The principal's move ``[B, ...]`` and, for a dual-RL planner deciding now, its decision record."""
        space = self.principal_space
        decision = None
        if self.planner_name == "zero":
            rates = np.zeros((self.num_envs, *space.shape), dtype=np.float32)
        elif self.planner_name == "dual_rl":
            deciding = self.env.state.t % self.period == 0
            if deciding.all() or self.planner_decision is None:
                image, flat = self.principal_inputs()
                with torch.no_grad():
                    d = self.planner_net.distribution(to_torch(image, self.device), to_torch(flat, self.device))
                    u = d.sample()
                    logp = d.log_prob(u).sum(-1)
                    value = self.planner_net.value(to_torch(image, self.device), to_torch(flat, self.device))
                decision = {"image": image, "flat": flat, "u": u.cpu().numpy(), "logp": logp.cpu().numpy()}
                decision["value"] = value.cpu().numpy()
                self.planner_decision = decision
            unit = 1.0 / (1.0 + np.exp(-np.clip(self.planner_decision["u"], -30, 30)))
            rates = (space.low + (space.high - space.low) * unit).astype(np.float32)
        else:
            rates = np.asarray(self.fixed_planner(self.obs[PRINCIPAL]), dtype=np.float32)
        if self.rate_cap < 1.0:
            rates = rates * np.float32(self.rate_cap)
        return rates, decision

    def step(self, agent_actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict, dict | None]:
        """One round: offer stages (principal only), then the act stage. Returns agents' rewards ``[B, N]``, the
        principal's reward ``[B]``, done ``[B]``, the act stage's infos and the planner's decision (if new)."""
        env = self.env
        agent_rewards = np.zeros((self.num_envs, self.n))
        principal_reward = np.zeros(self.num_envs)
        decision = None
        while True:
            movers = env.stage_movers[env.stage]
            moves = {}
            if self.has_principal and PRINCIPAL in movers:
                moves[PRINCIPAL], new = self.principal_move()
                decision = decision or new
            acting = [a for a in self.agents if a in movers]
            if acting:
                actions = agent_actions.reshape(self.num_envs, self.n)
                moves.update({a: actions[:, i] for i, a in enumerate(self.agents)})
            self.obs, rewards, terms, truncs, infos = env.step(moves)
            for i, a in enumerate(self.agents):
                agent_rewards[:, i] += rewards[a]
            if self.has_principal:
                principal_reward += rewards[PRINCIPAL]
            if acting:
                done = np.asarray(terms[self.agents[0]]) | np.asarray(truncs[self.agents[0]])
                return agent_rewards, principal_reward, done, infos, decision


# ----------------------------------------------------------------------------- metrics
def episode_metrics(economy: Economy, infos: dict, done: np.ndarray) -> dict[str, list[float]]:
    """Per finished episode: the agents' mean return (ledger-free: the sum of rewards is kept by the caller) and
    the game's end-of-episode figures."""
    out: dict[str, list[float]] = {}
    if not done.any():
        return out
    if economy.is_gtb:
        p = infos[PRINCIPAL]
        for key in ("equality_times_productivity", "productivity", "equality"):
            out[key] = p[key][done].tolist()
        coin = np.stack([infos[a]["coin"] for a in economy.agents], 1)[done]
        out["coin_min"] = coin.min(1).tolist()
        out["coin_max"] = coin.max(1).tolist()
        out["labour"] = np.stack([infos[a]["labour"] for a in economy.agents], 1)[done].mean(1).tolist()
        out["build_income"] = np.asarray(infos[economy.agents[0]]["episode_welfare"])[done].tolist()
    first = infos[economy.agents[0]]
    if "episode_welfare" in first:
        out["welfare"] = np.asarray(first["episode_welfare"])[done].tolist()
    return out


def collect_returns(returns: np.ndarray, done: np.ndarray, sink: dict[str, list[float]]) -> None:
    sink.setdefault("agent_return", []).extend(returns[done].mean(1).tolist())


# ----------------------------------------------------------------------------- training
def train(args: Args, writer: SummaryWriter, device: torch.device) -> tuple:
    probe = Economy(args, args.num_envs, args.seed, None, device)
    agent = Agent(probe.reader.map_shape, probe.flat_dim, probe.n_actions).to(device)
    planner = None
    if args.planner == "dual_rl":
        planner = Planner(
            probe.principal_reader.map_shape,
            probe.principal_reader.flat_dim,
            int(np.prod(probe.principal_space.shape)),
            args.planner_init_std,
        ).to(device)
    if args.init_checkpoint:
        saved = torch.load(args.init_checkpoint, map_location=device, weights_only=False)
        agent.load_state_dict(saved["state_dicts"]["agent"])
        if planner is not None and "planner" in saved["state_dicts"]:
            planner.load_state_dict(saved["state_dicts"]["planner"])
    economy = probe
    economy.planner_net = planner
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    planner_opt = None if planner is None else torch.optim.Adam(planner.parameters(), lr=args.planner_learning_rate)
    horizon = economy.game.horizon
    steps = args.num_steps or horizon
    if steps is None:
        raise ValueError(f"{args.env_id} has no horizon: give --num-steps")
    rows = args.num_envs * economy.n
    batch = steps * rows
    num_iterations = max(1, args.total_timesteps // (steps * args.num_envs))
    minibatch = batch // args.num_minibatches
    image_shape = economy.reader.map_shape
    buf_image = None if image_shape is None else np.zeros((steps, rows, *image_shape), dtype=np.uint8)
    buf_flat = np.zeros((steps, rows, economy.flat_dim), dtype=np.float32)
    buf_mask = None if not economy.reader.has_mask else np.zeros((steps, rows, economy.n_actions), dtype=np.int8)
    buf_action = np.zeros((steps, rows), dtype=np.int64)
    buf_logp, buf_value = np.zeros((steps, rows), np.float32), np.zeros((steps, rows), np.float32)
    buf_reward, buf_done = np.zeros((steps, rows), np.float32), np.zeros((steps, rows), np.float32)
    running = np.zeros((args.num_envs, economy.n))
    previous_labour = np.zeros((args.num_envs, economy.n))
    history: list[dict] = []
    global_step, episodes, start = 0, 0, time.time()
    planner_transitions: list[dict] = []
    progress = tqdm(range(1, num_iterations + 1), desc=f"ppo_shared {args.planner}", disable=None)
    for iteration in progress:
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / num_iterations) * args.learning_rate
        sink: dict[str, list[float]] = {}
        pending: dict | None = None  # the planner's decision whose period is running
        for t in range(steps):
            if args.rate_cap_episodes > 0:
                frac = min(1.0, episodes / args.rate_cap_episodes)
                economy.rate_cap = args.rate_cap_start + frac * (1.0 - args.rate_cap_start)
            else:
                economy.rate_cap = 1.0 if args.rate_cap_start >= 1.0 else args.rate_cap_start
            image, flat, mask = economy.agent_inputs()
            if buf_image is not None:
                buf_image[t] = image
            buf_flat[t] = flat
            if buf_mask is not None:
                buf_mask[t] = mask
            with torch.no_grad():
                img_t, flat_t, mask_t = to_torch(image, device), to_torch(flat, device), to_torch(mask, device)
                dist = agent.distribution(img_t, flat_t, mask_t)
                action = dist.sample()
                buf_logp[t] = dist.log_prob(action).cpu().numpy()
                buf_value[t] = agent.value(img_t, flat_t).cpu().numpy()
            buf_action[t] = action.cpu().numpy()
            rewards, principal_reward, done, infos, decision = economy.step(buf_action[t])
            if decision is not None:
                if pending is not None:
                    planner_transitions.append(pending)
                pending = {**decision, "reward": np.zeros(args.num_envs), "done": np.zeros(args.num_envs)}
            if pending is not None:
                pending["reward"] += principal_reward
                pending["done"] = done.astype(np.float64)
            if economy.is_gtb and args.energy_warmup_episodes > 0:  # give back part of the labour cost
                labour = np.stack([infos[a]["labour"] for a in economy.agents], 1)
                labour_step = labour - np.where(done[:, None], 0.0, previous_labour)
                share = np.exp(-episodes / args.energy_warmup_episodes)
                buf_reward[t] = (rewards + share * economy.game.energy_cost * labour_step).reshape(-1)
                previous_labour = np.where(done[:, None], 0.0, labour)
            else:
                buf_reward[t] = rewards.reshape(-1)
            buf_done[t] = np.repeat(done, economy.n).astype(np.float32)
            running += rewards
            collect_returns(running, done, sink)
            for k, v in episode_metrics(economy, infos, done).items():
                sink.setdefault(k, []).extend(v)
            running[done] = 0.0
            episodes += int(done.sum())
            global_step += args.num_envs
        if pending is not None:
            planner_transitions.append(pending)

        # GAE (an episode boundary cuts the bootstrap; the horizon is in the observation)
        with torch.no_grad():
            image, flat, _ = economy.agent_inputs()
            next_value = agent.value(to_torch(image, device), to_torch(flat, device)).cpu().numpy()
        advantages = np.zeros_like(buf_reward)
        last = np.zeros(rows, np.float32)
        for t in reversed(range(steps)):
            nonterminal = 1.0 - buf_done[t]
            value_next = next_value if t == steps - 1 else buf_value[t + 1]
            delta = buf_reward[t] + args.gamma * value_next * nonterminal - buf_value[t]
            last = delta + args.gamma * args.gae_lambda * nonterminal * last
            advantages[t] = last
        returns = advantages + buf_value

        b_image = None if buf_image is None else buf_image.reshape(batch, *image_shape)
        b_flat, b_action = buf_flat.reshape(batch, -1), buf_action.reshape(batch)
        b_mask = None if buf_mask is None else buf_mask.reshape(batch, -1)
        b_logp, b_adv, b_ret, b_val = (x.reshape(batch) for x in (buf_logp, advantages, returns, buf_value))
        clipfracs, stats = [], {}
        for _ in range(args.update_epochs):
            order = np.random.permutation(batch)
            for lo in range(0, batch, minibatch):
                idx = order[lo : lo + minibatch]
                img_t = None if b_image is None else torch.as_tensor(b_image[idx], device=device)
                flat_t = torch.as_tensor(b_flat[idx], device=device)
                mask_t = None if b_mask is None else torch.as_tensor(b_mask[idx], device=device)
                dist = agent.distribution(img_t, flat_t, mask_t)
                new_logp = dist.log_prob(torch.as_tensor(b_action[idx], device=device))
                ratio = (new_logp - torch.as_tensor(b_logp[idx], device=device)).exp()
                adv = torch.as_tensor(b_adv[idx], device=device)
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
                value = agent.value(img_t, flat_t)
                ret = torch.as_tensor(b_ret[idx], device=device)
                old = torch.as_tensor(b_val[idx], device=device)
                clipped = old + (value - old).clamp(-args.clip_coef, args.clip_coef)
                v_loss = 0.5 * torch.max((value - ret) ** 2, (clipped - ret) ** 2).mean()
                entropy = dist.entropy().mean()
                loss = pg_loss - args.ent_coef * entropy + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
                clipfracs.append(float(((ratio - 1.0).abs() > args.clip_coef).float().mean()))
        stats.update(
            value_loss=float(v_loss.detach()), policy_loss=float(pg_loss.detach()), entropy=float(entropy.detach())
        )
        stats["clipfrac"] = float(np.mean(clipfracs))
        if planner is not None and planner_transitions:
            stats.update(update_planner(args, planner, planner_opt, planner_transitions, device))
            planner_transitions = []

        row = {"step": global_step, "episodes": episodes, "rate_cap": economy.rate_cap, **stats}
        if economy.is_gtb and args.energy_warmup_episodes > 0:
            row["labour_cost_share"] = 1.0 - float(np.exp(-episodes / args.energy_warmup_episodes))
        for k, v in sink.items():
            row[k] = float(np.mean(v))
        history.append(row)
        for k, v in row.items():
            if k != "step":
                writer.add_scalar(f"train/{k}", v, global_step)
        writer.add_scalar("charts/SPS", int(global_step / (time.time() - start)), global_step)
        if "equality_times_productivity" in row:
            progress.set_postfix(
                eq_x_prod=f"{row['equality_times_productivity']:.1f}", ret=f"{row['agent_return']:.2f}"
            )
    final = {k: v for k, v in history[-1].items() if k not in ("step", "episodes")}
    return final, history, agent, planner, getattr(economy, "fixed_planner", None)


def update_planner(args: Args, planner: Planner, opt, transitions: list[dict], device) -> dict[str, float]:
    """PPO (4 epochs, clipped) on the planner's decisions: one transition per tax period and environment."""
    k = len(transitions)
    reward = np.stack([tr["reward"] for tr in transitions])  # [K, B]
    done = np.stack([tr["done"] for tr in transitions])
    value = np.stack([tr["value"] for tr in transitions])
    adv = np.zeros_like(reward)
    last = 0.0
    for j in reversed(range(k)):
        nonterminal = 1.0 - done[j]
        value_next = value[j + 1] if j + 1 < k else 0.0
        delta = reward[j] + args.gamma * value_next * nonterminal - value[j]
        last = delta + args.gamma * args.gae_lambda * nonterminal * last
        adv[j] = last
    ret = adv + value
    image = None if transitions[0]["image"] is None else np.concatenate([tr["image"] for tr in transitions])
    flat = np.concatenate([tr["flat"] for tr in transitions])
    u = np.concatenate([tr["u"] for tr in transitions])
    old_logp = np.concatenate([tr["logp"] for tr in transitions])
    adv_t, ret_t = torch.as_tensor(adv.reshape(-1), device=device), torch.as_tensor(ret.reshape(-1), device=device)
    adv_t = (adv_t - adv_t.mean()) / (adv_t.std() + 1e-8)
    img_t = to_torch(image, device)
    flat_t, u_t = torch.as_tensor(flat, device=device), torch.as_tensor(u, device=device)
    old_t = torch.as_tensor(old_logp, device=device)
    for _ in range(args.update_epochs):
        d = planner.distribution(img_t, flat_t)
        ratio = (d.log_prob(u_t).sum(-1) - old_t).exp()
        pg = torch.max(-adv_t * ratio, -adv_t * ratio.clamp(1 - args.clip_coef, 1 + args.clip_coef)).mean()
        v_loss = 0.5 * ((planner.value(img_t, flat_t) - ret_t.float()) ** 2).mean()
        loss = pg + args.vf_coef * v_loss - args.planner_ent_coef * d.entropy().sum(-1).mean()
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(planner.parameters(), args.max_grad_norm)
        opt.step()
    rates = 1.0 / (1.0 + np.exp(-np.clip(u, -30, 30)))
    out = {"planner_value_loss": float(v_loss.detach()), "planner_std": float(planner.log_std.exp().mean().detach())}
    out.update({f"planner_rate_{j}": float(rates[:, j].mean()) for j in range(rates.shape[1])})
    return out


# ----------------------------------------------------------------------------- evaluation
def evaluate(
    args: Args, agent: Agent, planner: Planner | None, device: torch.device, fixed_planner=None
) -> dict[str, float]:
    """Sampled actions on environment seeds ``eval_seed, eval_seed + 1, ...``; the planner at the final cap. A
    fixed planner from training (the Saez planner, with the samples it has gathered) can be passed on."""
    economy = Economy(args, args.num_eval_episodes, args.eval_seed, planner, device)
    economy.rate_cap = 1.0 if args.rate_cap_episodes > 0 else min(1.0, args.rate_cap_start)
    if fixed_planner is not None:
        economy.fixed_planner = fixed_planner
    returns = np.zeros((args.num_eval_episodes, economy.n))
    sink: dict[str, list[float]] = {}
    rates = []
    for _ in range(economy.game.horizon):
        image, flat, mask = economy.agent_inputs()
        with torch.no_grad():
            dist = agent.distribution(to_torch(image, device), to_torch(flat, device), to_torch(mask, device))
            action = dist.sample().cpu().numpy()
        rewards, _, done, infos, _ = economy.step(action)
        returns += rewards
        if economy.has_principal and economy.is_gtb:
            rates.append(np.stack([infos[PRINCIPAL][f"rate_{k}"] for k in range(7)], 1).mean(0))
        collect_returns(returns, done, sink)
        for k, v in episode_metrics(economy, infos, done).items():
            sink.setdefault(k, []).extend(v)
    out = {k: float(np.mean(v)) for k, v in sink.items()}
    out.update({f"{k}_std": float(np.std(v)) for k, v in sink.items() if k in ("equality_times_productivity",)})
    if rates:
        mean_rates = np.mean(rates[:: economy.period], axis=0)
        out.update({f"rate_{k}": float(r) for k, r in enumerate(mean_rates)})
    return out


# ----------------------------------------------------------------------------- run folder, metrics, main
def run_folder(args: Args) -> str:
    env_name = spec(args.env_id).name
    stamp = int(time.time())
    while True:  # two runs started in the same second get consecutive stamps
        path = os.path.join(args.runs_dir, f"{args.exp_name}__{env_name}__{args.seed}__{stamp}")
        try:
            os.makedirs(path)
            return path
        except FileExistsError:
            stamp += 1


def versions() -> dict:
    return {
        "contract_envs": contract_envs.__version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def write_metrics(path: str, args: Args, final: dict, history: list, seconds: float, evaluation) -> dict:
    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": os.path.basename(__file__)[: -len(".py")],
        "env_id": spec(args.env_id).id,
        "env_kwargs": json.loads(args.env_kwargs),
        "seed": args.seed,
        "args": {k: v for k, v in dataclasses.asdict(args).items()},
        "final": final,
        "history": history,
        "wall_clock_s": seconds,
        "versions": versions(),
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
    writer.add_text(
        "hyperparameters", "|param|value|\n|-|-|\n" + "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    )
    start = time.time()
    if args.eval_checkpoint:
        probe = Economy(args, 1, args.seed, None, device)
        agent = Agent(probe.reader.map_shape, probe.flat_dim, probe.n_actions).to(device)
        agent.load_state_dict(saved["state_dicts"]["agent"])
        planner = None
        if "planner" in saved["state_dicts"]:
            planner = Planner(
                probe.principal_reader.map_shape,
                probe.principal_reader.flat_dim,
                int(np.prod(probe.principal_space.shape)),
                args.planner_init_std,
            ).to(device)
            planner.load_state_dict(saved["state_dicts"]["planner"])
        evaluation = evaluate(args, agent, planner, device)
        metrics = write_metrics(
            path,
            args,
            held_out(evaluation),
            [],
            time.time() - start,
            {"checkpoint": args.eval_checkpoint, "final": evaluation},
        )
        print(json.dumps(evaluation, indent=1))
        return metrics
    final, history, agent, planner, fixed_planner = train(args, writer, device)
    train_seconds = time.time() - start
    if args.save_model:
        state_dicts = {"agent": agent.state_dict()}
        if planner is not None:
            state_dicts["planner"] = planner.state_dict()
        torch.save({"args": dataclasses.asdict(args), "state_dicts": state_dicts}, os.path.join(path, "model.pt"))
    evaluation = evaluate(args, agent, planner, device, fixed_planner)
    for k, v in evaluation.items():
        writer.add_scalar(f"eval/{k}", v, history[-1]["step"])
    writer.close()
    metrics = write_metrics(path, args, {**final, **held_out(evaluation)}, history, train_seconds, None)
    print(json.dumps({"run": path, "train_seconds": round(train_seconds, 1), "eval": evaluation}, indent=1))
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
