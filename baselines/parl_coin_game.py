"""Multi-agent PARL (Ivanov et al., arXiv 2407.18074, Algorithm 3) on the Coin Game with a principal.

CleanRL-style single file, two phases.

**Training phase** (the principal learns, with its own model of the agents):

* Each episode draws a follow/deviate bit ``f_i ~ Bernoulli(follow_prob)`` per agent, fixed for the
  episode. ``f_i = 1``: agent i takes the principal's recommendation (epsilon-greedy from the
  principal's ``q_theta``); ``f_i = 0``: it plays its selfish policy (epsilon-greedy from
  ``Q_phi((s, f_-i), .)``), ignoring contracts.
* Agents' selfish Q-network ``Q_phi((s, f_-i), a)``: one network shared by all agents, input the
  agent's own frame (the environment's channel-swapped ``obs_view="swap"``) plus the others' bits,
  trained by DQN on the agents' *own* rewards: ``y = r_i + gamma max_a' Q_phi'((s', f_-i), a')``.
* Contract (observed action, pay iff followed): the minimal implementing amount
  ``b_i(s, a^p) = max_a Q_phi((s, 1), a) - Q_phi((s, 1), a^p)`` from the online network with the
  others following (``min_pay_amounts``; with a nudge margin xi: ``max(max_{a != a^p} Q(a) + xi -
  Q(a^p), 0)``, the LP's answer). It is offered through the environment's contract layer as the
  one-hot contract row ``b_i * e_{a^p}`` and clipped to the environment's ``payment_cap``.
* Principal: VDN, ``q(s, a) = sum_i q_theta(s_i, a_i)`` with one shared network over the agents'
  frames, trained on the taken actions with the joint target
  ``y = sum_i [r_i - alpha b_i(s, a_i)] + gamma sum_i max_a' q_theta'(s'_i, a')``, alpha = 0.1
  (``vdn_targets``). This is the environment's principal reward ``welfare_weight * W - payments``
  divided by ``welfare_weight = 1 / alpha``.

**Validation phase** (``parl.md`` Sec. 8): the principal is frozen (greedy recommendations, contracts
from the frozen ``Q_phi``) and *fresh* selfish DQN agents ``Q_psi((s, a^p_i), a)`` learn from scratch
in the environment with contracts: they see their frame and their recommendation (one-hot) and are
paid by the environment iff they take it. Reported: welfare per episode, payments as a share of
welfare, share of recommendations followed, and PARL's IC and SPE ratios (Fig. 2 d, e), estimated
from the validation agents' own Q-values as ``mean max_a Q_psi((s, a^p), a) / mean Q_psi((s, a^p), a^p)``
over greedy evaluation states (1 = following is the agent's best response): the IC ratio with every
agent playing its own policy, the SPE ratio for one agent per episode while the others are made to
follow their recommendations.

Deviations (documented): uniform replay instead of prioritized replay (PER); Huber loss and
gradient clipping at 10 (the reproduction's stabilisers); each iteration steps ``num_envs``
environments (batched API) and does one gradient step per network; episodes end by truncation
only and targets bootstrap through the time limit; bits ``f_i`` i.i.d. Bernoulli(``follow_prob``).

Run: ``PYTHONPATH=. python baselines/parl_coin_game.py --preset parl_3x3 --total-iterations 20000``
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: N812 (CleanRL's convention)
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

import contract_envs.vector

ENV_ID = "contract_envs/coin_game-v1"
PRINCIPAL = "principal_0"


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (torch, numpy, random and the environments)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda will be used when available"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the principal's and validation agents' networks and evaluate the reloaded copies"""
    metrics_path: str | None = None
    """where to write the final metrics JSON (default `runs/{run_name}/metrics.json`)"""
    torch_threads: int = 1
    """torch CPU threads (small networks: 1 is fastest on a shared machine)"""

    # environment
    preset: Literal["parl", "parl_3x3"] = "parl"
    """Coin Game preset: `parl` (7x7, 50 steps) or `parl_3x3` (3x3, 20 steps)"""
    tie_rule: Literal["all", "first", "random"] | None = None
    """override the preset's tie rule (`random`: a random winner, the PARL reproduction's rule; see docs)"""
    coins: Literal["cycle", "random", "per_agent"] | None = None
    """override the preset's coin rule (`random`: colour drawn at each spawn, the PARL reproduction's rule)"""
    alpha: float = 0.1
    """payment weight: principal maximises welfare - alpha * payments (env `welfare_weight = 1 / alpha`)"""
    payment_cap: float = 10.0
    """largest payment per action (contracts are clipped to it)"""
    num_envs: int = 16
    """parallel environments stepped per iteration"""

    # algorithm (PARL App. D.2 defaults, prioritized replay replaced by uniform replay)
    total_iterations: int = 1_000_000
    """training-phase iterations; each = one batched env step (`num_envs` env steps) + one update per network"""
    validation_iterations: int | None = None
    """validation-phase iterations (default: `total_iterations`)"""
    follow_prob: float = 0.5
    """probability of each per-episode follow bit f_i = 1 in the training phase"""
    nudge: float = 0.0
    """nudge margin xi: the recommended action must beat every other by xi (in training and validation)"""
    learning_rate: float = 5e-4
    """initial learning rate (annealed exponentially to `end_learning_rate`)"""
    end_learning_rate: float = 1e-4
    """final learning rate"""
    buffer_size: int = 100_000
    """replay capacity in joint transitions (one per env step)"""
    gamma: float = 0.99
    """discount factor"""
    target_network_frequency: int = 100
    """iterations between hard copies to the target networks"""
    batch_size: int = 128
    """joint transitions per minibatch"""
    start_e: float = 0.4
    """initial exploration epsilon"""
    end_e: float = 0.0
    """final exploration epsilon"""
    exploration_fraction: float = 1.0
    """fraction of each phase over which epsilon decays linearly"""
    learning_starts: int = 1_000
    """joint transitions collected before learning starts"""
    max_grad_norm: float = 10.0
    """gradient-norm clip (stabiliser of the PARL reproduction, not in the paper)"""
    log_window: int = 80
    """episodes averaged per logged point (PARL: 80)"""
    eval_episodes: int = 64
    """greedy evaluation episodes at the end of the validation phase"""


def rule_overrides(args: Args) -> dict:
    """Rule arguments overriding the preset (only those given)."""
    return {k: v for k, v in (("tie_rule", args.tie_rule), ("coins", args.coins)) if v is not None}


class CoinQNetwork(nn.Module):
    """PARL's Coin Game Q-network: conv 4x4 (4 -> 32, padding 2) + FC 64 + FC 64 + output, ReLU.

    The paper does not state padding or stride; stride 1 and zero padding 2 follow the PARL
    reproduction (a G x G board gives a (G+1) x (G+1) feature map). ``extra_inputs`` features
    (follow bits, recommendations) are concatenated to the flattened convolution output.
    """

    def __init__(self, grid_size: int, n_actions: int, extra_inputs: int = 0, channels: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 32, kernel_size=4, stride=1, padding=2)
        side = grid_size + 1
        self.fc1 = nn.Linear(32 * side * side + extra_inputs, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, n_actions)

    def forward(self, grid: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = F.relu(self.conv(grid.float())).flatten(1)
        if extra is not None:
            h = torch.cat([h, extra.float()], dim=1)
        return self.out(F.relu(self.fc2(F.relu(self.fc1(h)))))


# ---------------------------------------------------------------------------- PARL pieces (unit-tested)
def min_pay_amounts(truncated_q: torch.Tensor, recommended: torch.Tensor, nudge: float = 0.0) -> torch.Tensor:
    """Observed-action min-pay contract: the amount paid iff the recommended action is taken.

    ``truncated_q [..., A]``: the agent's values without payment; ``recommended [...]``. With
    ``nudge = 0`` this is ``max_a Q(a) - Q(a^p)``; in general the cheapest ``b >= 0`` with
    ``Q(a^p) + b >= Q(a) + nudge`` for every ``a != a^p`` (the min-pay LP with an identity outcome
    matrix).
    """
    q_rec = truncated_q.gather(-1, recommended.unsqueeze(-1)).squeeze(-1)
    others = truncated_q.masked_fill(F.one_hot(recommended, truncated_q.shape[-1]).bool(), -torch.inf)
    return torch.clamp(others.max(-1).values + nudge - q_rec, min=0.0)


def vdn_targets(
    own_rewards: torch.Tensor,
    min_pays: torch.Tensor,
    next_q_target: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
    alpha: float,
) -> torch.Tensor:
    """VDN target of the principal: ``sum_i [r_i - alpha b_i] + gamma (1 - d) sum_i max_a' q'_i(s', a')``.

    ``own_rewards``, ``min_pays``: ``[B, N]`` (agents' own rewards and the min-pay amounts of the
    taken actions); ``next_q_target``: ``[B, N, A]``; ``dones``: ``[B]``. Returns ``[B]``.
    """
    reward = (own_rewards - alpha * min_pays).sum(-1)
    return reward + gamma * (1.0 - dones) * next_q_target.max(-1).values.sum(-1)


def resample_follow_bits(
    bits: np.ndarray, episode_done: np.ndarray, follow_prob: float, rng: np.random.Generator
) -> np.ndarray:
    """New per-episode follow bits ``[B, N]`` for the envs whose episode just ended; others keep theirs."""
    fresh = rng.random(bits.shape) < follow_prob
    return np.where(episode_done[:, None], fresh, bits)


def others_bits(bits: np.ndarray) -> np.ndarray:
    """``f_-i`` for every agent: ``[B, N]`` -> ``[B, N, N - 1]`` (the other agents' bits, in index order)."""
    n = bits.shape[1]
    return np.stack([np.delete(bits, i, axis=1) for i in range(n)], axis=1)


def taken_actions(bits: np.ndarray, recommended: np.ndarray, selfish: np.ndarray) -> np.ndarray:
    """Followers (``f_i = 1``) take the recommendation, deviators their selfish action."""
    return np.where(bits.astype(bool), recommended, selfish)


def one_hot_contracts(recommended: np.ndarray, amounts: np.ndarray, n_actions: int) -> np.ndarray:
    """Contract rows ``[B, N, A]`` paying ``amounts`` for the recommended action only."""
    return np.eye(n_actions)[recommended] * amounts[..., None]


# ---------------------------------------------------------------------------- helpers
def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    slope = (end_e - start_e) / max(duration, 1)
    return max(slope * t + start_e, end_e)


def exponential_lr(start: float, end: float, total: int, t: int) -> float:
    """Learning rate annealed exponentially from ``start`` to ``end`` over ``total`` iterations."""
    return start * (end / start) ** min(t / max(total, 1), 1.0)


class JointReplay:
    """Uniform replay of joint transitions: frames ``[N, C, G, G]`` (uint8), actions, rewards, side inputs."""

    def __init__(
        self, capacity: int, n_agents: int, obs_shape: tuple[int, ...], extra_dim: int, rng: np.random.Generator
    ) -> None:
        self.capacity, self.rng, self.size, self.pos = capacity, rng, 0, 0
        self.obs = np.zeros((capacity, n_agents, *obs_shape), dtype=np.uint8)
        self.next_obs = np.zeros_like(self.obs)
        self.extra = np.zeros((capacity, n_agents, extra_dim), dtype=np.float32)
        self.next_extra = np.zeros_like(self.extra)
        self.actions = np.zeros((capacity, n_agents), dtype=np.int64)
        self.rewards = np.zeros((capacity, n_agents), dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)

    def add(self, **arrays: np.ndarray) -> None:
        n = len(arrays["obs"])
        idx = (self.pos + np.arange(n)) % self.capacity
        for key, value in arrays.items():
            getattr(self, key)[idx] = value
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, device: torch.device) -> dict[str, torch.Tensor]:
        idx = self.rng.integers(0, self.size, batch_size)
        keys = ("obs", "next_obs", "extra", "next_extra", "actions", "rewards", "dones")
        return {k: torch.as_tensor(getattr(self, k)[idx], device=device) for k in keys}


def frames_of(obs: dict, agents: list[str]) -> np.ndarray:
    """Per-agent grid frames -> ``[B, N, C, G, G]`` (works with and without a principal)."""
    return np.stack([obs[a]["grid"] if isinstance(obs[a], dict) else obs[a] for a in agents], axis=1)


def q_values(network: CoinQNetwork, frames: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
    """Shared network over agents: ``[B, N, C, G, G]`` (+ ``[B, N, E]``) -> ``[B, N, A]``."""
    b, n = frames.shape[:2]
    flat_extra = None if extra is None else extra.reshape(b * n, -1)
    return network(frames.reshape(b * n, *frames.shape[2:]), flat_extra).reshape(b, n, -1)


def dqn_update(
    network: CoinQNetwork,
    target: CoinQNetwork,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    gamma: float,
    max_grad_norm: float,
) -> float:
    """One independent-DQN step of a shared agent network on every agent's sample of the batch."""
    with torch.no_grad():
        next_max = q_values(target, batch["next_obs"], batch["next_extra"]).max(-1).values
        y = batch["rewards"] + gamma * (1.0 - batch["dones"])[:, None] * next_max
    q = q_values(network, batch["obs"], batch["extra"]).gather(-1, batch["actions"][..., None]).squeeze(-1)
    loss = F.smooth_l1_loss(q, y)
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(network.parameters(), max_grad_norm)
    optimizer.step()
    return loss.item()


class PhaseStats:
    """Per-episode welfare, payments and follow counts of finished episodes, averaged over a window."""

    def __init__(self, num_envs: int) -> None:
        self.welfare: list[float] = []
        self.payments: list[float] = []
        self.followed: list[float] = []
        self.recommended: list[float] = []
        self._followed = np.zeros(num_envs)
        self._recommended = np.zeros(num_envs)

    def step(self, follows: np.ndarray, counted: np.ndarray) -> None:
        self._followed += (follows & counted).sum(1)
        self._recommended += counted.sum(1)

    def end(self, done: np.ndarray, welfare: np.ndarray, payments: np.ndarray) -> None:
        self.welfare += welfare[done].tolist()
        self.payments += payments[done].tolist()
        self.followed += self._followed[done].tolist()
        self.recommended += self._recommended[done].tolist()
        self._followed[done] = 0
        self._recommended[done] = 0

    def summary(self, window: int) -> dict[str, float]:
        w = np.array(self.welfare[-window:])
        rec = np.sum(self.recommended[-window:])
        return {
            "welfare": float(w.mean()) if len(w) else float("nan"),
            "welfare_se": float(w.std(ddof=1) / np.sqrt(len(w))) if len(w) > 1 else float("nan"),
            "payment_share": float(np.sum(self.payments[-window:]) / np.sum(w))
            if len(w) and np.sum(w) > 0
            else float("nan"),
            "payments": float(np.mean(self.payments[-window:])) if len(w) else float("nan"),
            "follow_rate": float(np.sum(self.followed[-window:]) / rec) if rec > 0 else float("nan"),
            "episodes": len(self.welfare),
        }


def make_envs(args: Args, num_envs: int, seed: int):
    return contract_envs.vector.make(
        ENV_ID,
        num_envs,
        seed=seed,
        preset=args.preset,
        principal=True,
        welfare_weight=1.0 / args.alpha,
        payment_cap=args.payment_cap,
        **rule_overrides(args),
    )


class FrozenPrincipal:
    """The trained principal: greedy VDN recommendations, min-pay contracts from its agent model ``Q_phi``."""

    def __init__(
        self,
        principal_q: CoinQNetwork,
        agent_q: CoinQNetwork,
        n_agents: int,
        nudge: float,
        payment_cap: float,
        device: torch.device,
    ) -> None:
        self.principal_q, self.agent_q, self.n, self.nudge, self.cap, self.device = (
            principal_q,
            agent_q,
            n_agents,
            nudge,
            payment_cap,
            device,
        )

    @torch.no_grad()
    def offer(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Recommendations ``[B, N]`` and amounts ``[B, N]`` (others assumed to follow: ``f_-i = 1``)."""
        x = torch.as_tensor(frames, device=self.device)
        rec = q_values(self.principal_q, x).argmax(-1)
        all_follow = torch.ones(x.shape[0], self.n, self.n - 1, device=self.device)
        amounts = min_pay_amounts(q_values(self.agent_q, x, all_follow), rec, self.nudge).clamp(max=self.cap)
        return rec.cpu().numpy(), amounts.cpu().numpy()


def run_validation_episodes(
    principal: FrozenPrincipal,
    validators: CoinQNetwork,
    args: Args,
    episodes: int,
    seed: int,
    device: torch.device,
    others_follow: bool = False,
) -> dict[str, float]:
    """Greedy validation agents against the frozen principal: welfare, payment share, follow rate, IC ratio.

    PARL's Fig. 2 ratios: an agent's best-response value over its value of following the recommendation,
    estimated from its own ``Q_psi`` at the states visited. IC ratio: every agent plays its own policy. SPE ratio
    (``others_follow``): in env ``b`` only agent ``b mod N`` plays its own policy and the ratio is its; the others
    follow their recommendations.
    """
    num_envs = min(episodes, args.num_envs)
    envs = make_envs(args, num_envs, seed)
    agents, n_actions = envs.agents, envs.game.n_actions
    obs, _ = envs.reset(seed=seed)
    stats = PhaseStats(num_envs)
    best_values, follow_values = [], []
    while len(stats.welfare) < episodes:
        frames = frames_of(obs, agents)
        rec, amounts = principal.offer(frames)
        obs, _, _, _, _ = envs.step({PRINCIPAL: one_hot_contracts(rec, amounts, n_actions)})
        with torch.no_grad():
            q = q_values(
                validators,
                torch.as_tensor(frames, device=device),
                torch.as_tensor(np.eye(n_actions)[rec], dtype=torch.float32, device=device),
            )
        actions = q.argmax(-1).cpu().numpy()
        q_best = q.max(-1).values.cpu().numpy()
        q_follow = q.gather(-1, torch.as_tensor(rec, device=device)[..., None]).squeeze(-1).cpu().numpy()
        if others_follow:
            free = np.arange(num_envs) % len(agents) == np.arange(len(agents))[:, None]  # [N, B]
            actions = np.where(free.T, actions, rec)
            q_best, q_follow = q_best[free.T], q_follow[free.T]
        best_values.append(q_best.ravel())
        follow_values.append(q_follow.ravel())
        obs, _, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(agents)})
        stats.step(actions == rec, np.ones_like(rec, dtype=bool))
        done = truncs[agents[0]]
        if done.any():
            stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
    ratio = float(np.mean(np.concatenate(best_values)) / np.mean(np.concatenate(follow_values)))
    if others_follow:
        return {"eval_spe_ratio_estimate": ratio}
    out = stats.summary(episodes)
    out["ic_ratio_estimate"] = ratio
    return {f"eval_{k}": v for k, v in out.items()}


def main(args: Args) -> dict:
    validation_iterations = args.validation_iterations or args.total_iterations
    run_name = f"coin_game__{args.exp_name}__{args.preset}__{args.seed}__{int(time.time())}"
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
    writer = SummaryWriter(f"runs/{run_name}")
    table = "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)

    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    rng = np.random.default_rng(args.seed)

    envs = make_envs(args, args.num_envs, args.seed)
    agents, grid_size, n_actions = envs.agents, envs.game.rules.grid_size, envs.game.n_actions
    n = len(agents)
    obs_shape = envs.observation_space(agents[0])["grid"].shape
    B = args.num_envs  # noqa: N806 (batch size, as in the docs)

    # ------------------------------------------------------------------ training phase
    principal_q = CoinQNetwork(grid_size, n_actions).to(device)
    principal_target = CoinQNetwork(grid_size, n_actions).to(device)
    agent_q = CoinQNetwork(grid_size, n_actions, extra_inputs=n - 1).to(device)
    agent_target = CoinQNetwork(grid_size, n_actions, extra_inputs=n - 1).to(device)
    principal_target.load_state_dict(principal_q.state_dict())
    agent_target.load_state_dict(agent_q.state_dict())
    principal_opt = torch.optim.Adam(principal_q.parameters(), lr=args.learning_rate)
    agent_opt = torch.optim.Adam(agent_q.parameters(), lr=args.learning_rate)
    rb = JointReplay(args.buffer_size, n, obs_shape, n - 1, np.random.default_rng(args.seed + 1))

    obs, _ = envs.reset(seed=args.seed)
    frames = frames_of(obs, agents)
    bits = resample_follow_bits(np.zeros((B, n), dtype=bool), np.ones(B, dtype=bool), args.follow_prob, rng)
    train_stats = PhaseStats(B)
    history: list[dict] = []
    start_time = time.time()
    last_logged = 0
    decay = int(args.exploration_fraction * args.total_iterations)
    for iteration in tqdm(range(args.total_iterations), desc="PARL training", mininterval=5):
        epsilon = linear_schedule(args.start_e, args.end_e, decay, iteration)
        f_others = others_bits(bits).astype(np.float32)
        x = torch.as_tensor(frames, device=device)
        with torch.no_grad():
            recommended = q_values(principal_q, x).argmax(-1)
            selfish = q_values(agent_q, x, torch.as_tensor(f_others, device=device)).argmax(-1).cpu().numpy()
        recommended = recommended.cpu().numpy()
        explore = rng.random((2, B, n)) < epsilon
        recommended = np.where(explore[0], rng.integers(0, n_actions, (B, n)), recommended)
        selfish = np.where(explore[1], rng.integers(0, n_actions, (B, n)), selfish)
        with torch.no_grad():
            all_follow = torch.ones(B, n, n - 1, device=device)
            amounts = (
                min_pay_amounts(
                    q_values(agent_q, x, all_follow), torch.as_tensor(recommended, device=device), args.nudge
                )
                .clamp(max=args.payment_cap)
                .cpu()
                .numpy()
            )
        envs.step({PRINCIPAL: one_hot_contracts(recommended, amounts, n_actions)})
        actions = taken_actions(bits, recommended, selfish)
        obs, _, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(agents)})
        next_frames = frames_of(obs, agents)
        done = truncs[agents[0]]
        real_next = next_frames
        if done.any():
            real_next = next_frames.copy()
            real_next[done] = frames_of(envs.final_observations, agents)[done]
        own_r = np.stack([infos[a]["own_reward"] for a in agents], axis=1)
        # f is fixed within an episode, so s' carries the same bits; truncation only: bootstrap (dones = 0)
        rb.add(
            obs=frames,
            next_obs=real_next,
            extra=f_others,
            next_extra=f_others,
            actions=actions,
            rewards=own_r,
            dones=np.zeros(B),
        )
        # training-phase follow rate: agreement of all agents' actions (followers and deviators) with recommendations
        train_stats.step(actions == recommended, np.ones((B, n), dtype=bool))
        if done.any():
            train_stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
            bits = resample_follow_bits(bits, done, args.follow_prob, rng)
        frames = next_frames

        if rb.size >= args.learning_starts:
            lr = exponential_lr(args.learning_rate, args.end_learning_rate, args.total_iterations, iteration)
            for opt in (principal_opt, agent_opt):
                for group in opt.param_groups:
                    group["lr"] = lr
            batch = rb.sample(args.batch_size, device)
            agent_loss = dqn_update(agent_q, agent_target, agent_opt, batch, args.gamma, args.max_grad_norm)
            with torch.no_grad():
                all_follow = torch.ones(args.batch_size, n, n - 1, device=device)
                pays = min_pay_amounts(q_values(agent_q, batch["obs"], all_follow), batch["actions"], args.nudge)
                y = vdn_targets(
                    batch["rewards"],
                    pays.clamp(max=args.payment_cap),
                    q_values(principal_target, batch["next_obs"]),
                    batch["dones"],
                    args.gamma,
                    args.alpha,
                )
            q_tot = q_values(principal_q, batch["obs"]).gather(-1, batch["actions"][..., None]).squeeze(-1).sum(-1)
            principal_loss = F.smooth_l1_loss(q_tot, y)
            principal_opt.zero_grad()
            principal_loss.backward()
            nn.utils.clip_grad_norm_(principal_q.parameters(), args.max_grad_norm)
            principal_opt.step()
            if iteration % args.target_network_frequency == 0:
                principal_target.load_state_dict(principal_q.state_dict())
                agent_target.load_state_dict(agent_q.state_dict())
            if iteration % 100 == 0:
                writer.add_scalar("losses/principal_loss", principal_loss.item(), iteration)
                writer.add_scalar("losses/agent_loss", agent_loss, iteration)
                writer.add_scalar("losses/principal_q", q_tot.mean().item(), iteration)
                writer.add_scalar("charts/mean_min_pay", float(amounts.mean()), iteration)
        if len(train_stats.welfare) - last_logged >= args.log_window:
            last_logged = len(train_stats.welfare)
            s = train_stats.summary(args.log_window)
            env_steps = (iteration + 1) * B
            history.append({"phase": "training", "env_steps": env_steps, **s})
            writer.add_scalar("training/welfare", s["welfare"], env_steps)
            writer.add_scalar("training/payment_share", s["payment_share"], env_steps)
            writer.add_scalar("charts/SPS", int(env_steps / (time.time() - start_time)), env_steps)
    training_wall = time.time() - start_time

    # ------------------------------------------------------------------ validation phase
    principal = FrozenPrincipal(principal_q.eval(), agent_q.eval(), n, args.nudge, args.payment_cap, device)
    validators = CoinQNetwork(grid_size, n_actions, extra_inputs=n_actions).to(device)
    validators_target = CoinQNetwork(grid_size, n_actions, extra_inputs=n_actions).to(device)
    validators_target.load_state_dict(validators.state_dict())
    validators_opt = torch.optim.Adam(validators.parameters(), lr=args.learning_rate)
    vrb = JointReplay(args.buffer_size, n, obs_shape, n_actions, np.random.default_rng(args.seed + 2))
    venvs = make_envs(args, B, args.seed + 5_000)
    obs, _ = venvs.reset(seed=args.seed + 5_000)
    frames = frames_of(obs, agents)
    val_stats = PhaseStats(B)
    eye = np.eye(n_actions, dtype=np.float32)
    val_start = time.time()
    last_logged = 0
    rec, amounts = principal.offer(frames)
    decay = int(args.exploration_fraction * validation_iterations)
    for iteration in tqdm(range(validation_iterations), desc="PARL validation", mininterval=5):
        epsilon = linear_schedule(args.start_e, args.end_e, decay, iteration)
        venvs.step({PRINCIPAL: one_hot_contracts(rec, amounts, n_actions)})
        rec_in = eye[rec]
        with torch.no_grad():
            actions = (
                q_values(validators, torch.as_tensor(frames, device=device), torch.as_tensor(rec_in, device=device))
                .argmax(-1)
                .cpu()
                .numpy()
            )
        actions = np.where(rng.random((B, n)) < epsilon, rng.integers(0, n_actions, (B, n)), actions)
        obs, rewards, _, truncs, infos = venvs.step({a: actions[:, i] for i, a in enumerate(agents)})
        next_frames = frames_of(obs, agents)
        done = truncs[agents[0]]
        real_next = next_frames
        if done.any():
            real_next = next_frames.copy()
            real_next[done] = frames_of(venvs.final_observations, agents)[done]
        # the next recommendation is part of the validation agents' next observation
        next_rec, next_amounts = principal.offer(real_next)
        utilities = np.stack([rewards[a] for a in agents], axis=1)  # own reward + payment (paid iff followed)
        vrb.add(
            obs=frames,
            next_obs=real_next,
            extra=rec_in,
            next_extra=eye[next_rec],
            actions=actions,
            rewards=utilities,
            dones=np.zeros(B),
        )
        val_stats.step(actions == rec, np.ones((B, n), dtype=bool))
        if done.any():
            val_stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
            next_rec, next_amounts = principal.offer(next_frames)
        frames, rec, amounts = next_frames, next_rec, next_amounts

        if vrb.size >= args.learning_starts:
            lr = exponential_lr(args.learning_rate, args.end_learning_rate, validation_iterations, iteration)
            for group in validators_opt.param_groups:
                group["lr"] = lr
            loss = dqn_update(
                validators,
                validators_target,
                validators_opt,
                vrb.sample(args.batch_size, device),
                args.gamma,
                args.max_grad_norm,
            )
            if iteration % args.target_network_frequency == 0:
                validators_target.load_state_dict(validators.state_dict())
            if iteration % 100 == 0:
                writer.add_scalar("losses/validation_loss", loss, iteration)
        if len(val_stats.welfare) - last_logged >= args.log_window:
            last_logged = len(val_stats.welfare)
            s = val_stats.summary(args.log_window)
            env_steps = (iteration + 1) * B
            history.append({"phase": "validation", "env_steps": env_steps, **s})
            for key in ("welfare", "payment_share", "follow_rate"):
                writer.add_scalar(f"validation/{key}", s[key], env_steps)
    validation_wall = time.time() - val_start

    metrics = {
        "args": asdict(args),
        "run_name": run_name,
        "training_wall_clock_s": training_wall,
        "validation_wall_clock_s": validation_wall,
        "env_steps": (args.total_iterations + validation_iterations) * B,
        "training": train_stats.summary(args.log_window),
        "validation": val_stats.summary(args.log_window),
        "history": history,
    }
    metrics.update(
        run_validation_episodes(principal, validators.eval(), args, args.eval_episodes, args.seed + 10_000, device)
    )
    metrics.update(
        run_validation_episodes(
            principal, validators, args, args.eval_episodes, args.seed + 20_000, device, others_follow=True
        )
    )
    if args.save_model:
        model_path = f"runs/{run_name}/{args.exp_name}.cleanrl_model"
        torch.save(
            {
                "principal_q": principal_q.state_dict(),
                "agent_q": agent_q.state_dict(),
                "validators": validators.state_dict(),
            },
            model_path,
        )
        print(f"model saved to {model_path}")
        saved = torch.load(model_path, map_location=device)
        nets = {
            "principal_q": CoinQNetwork(grid_size, n_actions),
            "agent_q": CoinQNetwork(grid_size, n_actions, n - 1),
            "validators": CoinQNetwork(grid_size, n_actions, n_actions),
        }
        for key, net in nets.items():
            net.load_state_dict(saved[key])
            net.to(device).eval()
        reloaded = FrozenPrincipal(nets["principal_q"], nets["agent_q"], n, args.nudge, args.payment_cap, device)
        metrics["reloaded"] = run_validation_episodes(
            reloaded, nets["validators"], args, args.eval_episodes, args.seed + 10_000, device
        )
    for key in (
        "eval_welfare",
        "eval_payment_share",
        "eval_follow_rate",
        "eval_ic_ratio_estimate",
        "eval_spe_ratio_estimate",
    ):
        writer.add_scalar(key.replace("eval_", "eval/"), metrics[key], 0)
    metrics_path = args.metrics_path or f"runs/{run_name}/metrics.json"
    os.makedirs(os.path.dirname(metrics_path) or ".", exist_ok=True)
    with open(metrics_path, "w") as fh:
        json.dump(metrics, fh, indent=1)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("args", "history")}))
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args))
