"""Multi-agent PARL (Ivanov et al., arXiv 2407.18074, Algorithm 3) on the Coin Game with a contracting principal.

A principal recommends an action to every agent and pays it, iff it follows, the least amount that makes
following its best response (a min-pay observed-action contract). Two phases, as in the paper:

**Training phase** (the principal learns, with its own model of the agents). Each episode draws a follow bit
``f_i ~ Bernoulli(follow_prob)`` per agent. ``f_i = 1``: agent i takes the principal's recommendation
(epsilon-greedy from ``q_theta``); ``f_i = 0``: it plays its selfish policy (epsilon-greedy from
``Q_phi((s, f_-i), .)``), ignoring contracts. ``Q_phi`` is one network shared by all agents: input the agent's own
frame (``obs_view="swap"``) and the share of the *other* agents that follow (PARL's ``f_-i``; for two agents it is
the other's bit; with more agents the swap view merges the others into one channel, so their bits enter as one
permutation-invariant share), trained by DQN on the agents' own rewards. The contract for ``a^p`` is
``b_i = max_a Q_phi((s, 1), a) - Q_phi((s, 1), a^p)`` from the online network with the others following
(``min_pay_amounts``; with a nudge ``xi`` the LP's ``max(max_{a != a^p} Q(a) + xi - Q(a^p), 0)``), clipped to
``payment_cap`` and offered through the environment as the one-hot contract row ``b_i e_{a^p}``. The principal is
VDN, ``q(s, a) = sum_i q_theta(s_i, a_i)`` (one network over the agents' frames), trained on
``y = sum_i [r_i - alpha b_i(s, a_i)] + gamma sum_i max_a' q_theta'(s'_i, a')`` with alpha = 0.1: the environment's
principal reward ``welfare_weight W - payments`` divided by ``welfare_weight = 1 / alpha``.

**Validation phase** (``parl.md`` Sec. 8): the principal is frozen (greedy recommendations, contracts from the
frozen ``Q_phi``) and *fresh* selfish DQN agents ``Q_psi((s, a^p_i), a)`` learn from scratch in the environment
with contracts (frame + recommendation one-hot; paid by the environment iff they follow).

**Scoring.** Greedy episodes of the frozen principal with the validation agents: welfare per episode as a
fraction of the exact optimum W* (``contract_envs.solvers.solve_coin_game_welfare``, two agents) or of the proven
upper bound (``coin_game_welfare_upper_bound``, more agents), payments / welfare, recommendations followed. With
two agents also *exact* figures by dynamic programming over every state (agent cells, coin cell, colour, round)
given the frozen policies (``TwoAgentCoinGameDP``): the deployed system's expected welfare and payments, and
PARL's Fig. 2 ratios with an exact best responder that is not the evaluated agent: the best-response value of one
agent over its value of following the recommendations, the other agent playing its validation policy (IC ratio)
or following (SPE ratio); 1 = following is a best response.

Deviations (documented): each iteration steps ``num_envs`` environments (batched API) and makes
``updates_per_iteration`` gradient steps per network, so the budget is counted in env-steps (PARL: 1 env step +
1 update per iteration); uniform replay by default, PARL's prioritized replay with ``--prioritized-replay``
(alpha 0.4, beta 0, eps 1e-7; one priority tree per network over the shared buffer, priority |TD error|, the mean
over agents for the agents' network); Huber loss and gradient clipping at 10 (the PARL reproduction's
stabilisers); episodes end by truncation only and targets bootstrap through the time limit; bits ``f_i`` are
i.i.d. Bernoulli(``follow_prob``).

Fastest meaningful command (3x3; about a minute on an idle core, 12 minutes at load average 14; exact welfare
85.5% of W* = 13.90, payments 21% of welfare, 78% of recommendations followed, seed 1):
``PYTHONPATH=. python baselines/parl_coin_game.py --preset parl_3x3 --total-env-steps 64000 --num-envs 16``
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import time
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F  # noqa: N812 (CleanRL's convention)
import tyro
from torch.utils.tensorboard import SummaryWriter
from tqdm.auto import tqdm

import contract_envs
import contract_envs.vector
from contract_envs.games.coin_game import coin_game_rules
from contract_envs.solvers import coin_game_welfare_upper_bound, solve_coin_game_welfare

ALGORITHM = os.path.basename(__file__)[: -len(".py")]
ENV_ID = "contract_envs/coin_game-v1"
PRINCIPAL = "principal_0"


@dataclass
class Args:
    seed: int = 1
    """seed of the experiment (torch, numpy, random and the environments)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda will be used when available (networks and minibatches on the GPU; env and replay on CPU)"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save `model.pt` (principal, agent model, validation agents) into the run folder"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env}__{seed}__{time}` (TensorBoard, metrics.json, model.pt)"""
    metrics_path: str | None = None
    """also write metrics.json to this path"""
    eval_checkpoint: str | None = None
    """evaluate this model.pt only (its args override the CLI except the evaluation options) and exit"""
    torch_threads: int = 1
    """torch CPU threads (small networks: 1 is fastest on a shared machine)"""

    # environment
    preset: Literal["parl", "parl_3x3"] = "parl"
    """Coin Game preset: `parl` (7x7, 50 steps) or `parl_3x3` (3x3, 20 steps)"""
    n_agents: int = 2
    """agents (PARL: 2; more agents: welfare is scored against the proven upper bound)"""
    tie_rule: Literal["all", "first", "random"] | None = None
    """override the preset's tie rule (default `random`: a random winner, the PARL reproduction's rule)"""
    coins: Literal["cycle", "random"] | None = None
    """override the preset's coin rule (`random`: colour drawn at each spawn, the PARL reproduction's rule)"""
    alpha: float = 0.1
    """payment weight: principal maximises welfare - alpha * payments (env `welfare_weight = 1 / alpha`)"""
    payment_cap: float = 10.0
    """largest payment per action (contracts are clipped to it)"""
    num_envs: int = 64
    """parallel environments stepped per iteration"""

    # budget (PARL App. D.2: 1,000,000 env steps per phase)
    total_env_steps: int = 1_000_000
    """training-phase env steps (iterations x `num_envs`)"""
    validation_env_steps: int | None = None
    """validation-phase env steps (default: `total_env_steps`)"""

    # algorithm (PARL App. D.2 defaults)
    updates_per_iteration: int = 1
    """gradient steps per network per iteration"""
    follow_prob: float = 0.5
    """probability of each per-episode follow bit f_i = 1 in the training phase"""
    nudge: float = 0.0
    """nudge margin xi: the recommended action must beat every other by xi (in training and validation)"""
    learning_rate: float = 5e-4
    """initial learning rate (annealed exponentially to `end_learning_rate` over each phase)"""
    end_learning_rate: float = 1e-4
    """final learning rate"""
    buffer_size: int = 100_000
    """replay capacity in joint transitions (one per env step)"""
    prioritized_replay: bool = False
    """PARL's prioritized replay (Schaul et al. 2015) instead of uniform replay"""
    per_alpha: float = 0.4
    """prioritized replay: priority exponent"""
    per_eps: float = 1e-7
    """prioritized replay: added to |TD error| (beta = 0: no importance weights, as PARL)"""
    gamma: float = 0.99
    """discount factor"""
    target_network_frequency: int = 100
    """gradient steps between hard copies to the target networks"""
    batch_size: int = 128
    """joint transitions per minibatch"""
    start_e: float = 0.4
    """initial exploration epsilon"""
    end_e: float = 0.0
    """final exploration epsilon"""
    exploration_fraction: float = 1.0
    """fraction of each phase over which epsilon decays linearly"""
    learning_starts: int = 1_000
    """env steps collected before learning starts"""
    max_grad_norm: float = 10.0
    """gradient-norm clip (stabiliser of the PARL reproduction, not in the paper)"""
    log_window: int = 80
    """episodes averaged per logged point (PARL: 80)"""

    # evaluation
    eval_episodes: int = 256
    """greedy evaluation episodes of the frozen principal with the validation agents"""
    exact_evaluation: bool = True
    """two agents: exact welfare, payments and IC/SPE ratios by dynamic programming over all states"""


#: options an `--eval-checkpoint` run takes from the command line; everything else comes from the checkpoint
EVAL_OPTIONS = ("eval_checkpoint", "eval_episodes", "exact_evaluation", "cuda", "torch_threads", "runs_dir")
EVAL_OPTIONS += ("metrics_path", "track", "wandb_project_name", "wandb_entity")


def check_args(args: Args) -> None:
    """Reject bad arguments at once, naming the option and its allowed range."""
    positive = ("num_envs", "total_env_steps", "batch_size", "buffer_size", "target_network_frequency")
    positive += ("updates_per_iteration", "log_window", "eval_episodes", "torch_threads")
    for name in positive:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    if args.validation_env_steps is not None and args.validation_env_steps < 1:
        raise ValueError(f"--validation-env-steps: must be >= 1, got {args.validation_env_steps}")
    if args.n_agents < 2:
        raise ValueError(f"--n-agents: must be >= 2, got {args.n_agents}")
    for name, low, high in (("follow_prob", 0, 1), ("gamma", 0, 1), ("start_e", 0, 1), ("end_e", 0, 1)):
        if not low <= getattr(args, name) <= high:
            raise ValueError(f"--{name.replace('_', '-')}: must be in [{low}, {high}], got {getattr(args, name)}")
    for name in ("alpha", "payment_cap", "learning_rate", "end_learning_rate", "per_eps"):
        if not getattr(args, name) > 0:
            raise ValueError(f"--{name.replace('_', '-')}: must be > 0, got {getattr(args, name)}")
    if args.nudge < 0 or args.per_alpha < 0:
        raise ValueError(f"--nudge and --per-alpha: must be >= 0, got {args.nudge} and {args.per_alpha}")


def env_kwargs(args: Args) -> dict:
    """Keyword arguments of the environment (the preset plus the overrides given)."""
    kwargs = {"preset": args.preset, "principal": True, "n_agents": args.n_agents}
    kwargs |= {"welfare_weight": 1.0 / args.alpha, "payment_cap": args.payment_cap}
    return kwargs | {k: v for k, v in (("tie_rule", args.tie_rule), ("coins", args.coins)) if v is not None}


def make_envs(args: Args, num_envs: int, seed: int):
    return contract_envs.vector.make(ENV_ID, num_envs, seed=seed, **env_kwargs(args))


def welfare_reference(args: Args) -> tuple[str, float]:
    """Exact optimum W* (two agents) or the proven upper bound (more agents) of the welfare per episode."""
    kwargs = {k: v for k, v in env_kwargs(args).items() if k not in ("preset", "principal", "welfare_weight")}
    kwargs.pop("payment_cap")
    rules = coin_game_rules(args.preset, **kwargs)
    if rules.n_agents == 2:
        return "optimum", float(solve_coin_game_welfare(rules, store_values=False).value)
    return "upper_bound", float(coin_game_welfare_upper_bound(rules))


# ---------------------------------------------------------------------------- network
class CoinQNetwork(nn.Module):
    """PARL's Coin Game Q-network: conv 4x4 (4 -> 32, padding 2) + FC 64 + FC 64 + output, ReLU.

    The paper does not state padding or stride; stride 1 and zero padding 2 follow the PARL
    reproduction (a G x G board gives a (G+1) x (G+1) feature map). ``extra_inputs`` features
    (the others' follow share, recommendations) are concatenated to the flattened convolution output.
    """

    def __init__(self, grid_size: int, n_actions: int, extra_inputs: int = 0, channels: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, 32, kernel_size=4, stride=1, padding=2)
        side = grid_size + 1
        self.fc1 = nn.Linear(32 * side * side + extra_inputs, 64)
        self.fc2 = nn.Linear(64, 64)
        self.out = nn.Linear(64, n_actions)

    def features(self, grid: torch.Tensor) -> torch.Tensor:
        """The convolution's flattened output (computed once when several side inputs are scored)."""
        return F.relu(self.conv(grid.float()), inplace=True).flatten(1)

    def head(self, features: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        h = features if extra is None else torch.cat([features, extra.float()], dim=1)
        return self.out(F.relu(self.fc2(F.relu(self.fc1(h)))))

    def forward(self, grid: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(self.features(grid), extra)


def q_values(network: CoinQNetwork, frames: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
    """Shared network over agents: ``[B, N, C, G, G]`` (+ ``[B, N, E]``) -> ``[B, N, A]``."""
    b, n = frames.shape[:2]
    flat_extra = None if extra is None else extra.reshape(b * n, -1)
    return network(frames.reshape(b * n, *frames.shape[2:]), flat_extra).reshape(b, n, -1)


def q_values_two_inputs(
    network: CoinQNetwork, frames: torch.Tensor, extra: torch.Tensor, other_extra: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """``q_values`` with two side inputs sharing one convolution pass; the second is computed without gradients."""
    b, n = frames.shape[:2]
    features = network.features(frames.reshape(b * n, *frames.shape[2:]))
    first = network.head(features, extra.reshape(b * n, -1)).reshape(b, n, -1)
    with torch.no_grad():
        second = network.head(features.detach(), other_extra.reshape(b * n, -1)).reshape(b, n, -1)
    return first, second


# ---------------------------------------------------------------------------- PARL pieces (unit-tested)
def min_pay_amounts(truncated_q: torch.Tensor, recommended: torch.Tensor, nudge: float = 0.0) -> torch.Tensor:
    """Observed-action min-pay contract: the amount paid iff the recommended action is taken.

    ``truncated_q [..., A]``: the agent's values without payment; ``recommended [...]``. With
    ``nudge = 0`` this is ``max_a Q(a) - Q(a^p)``; in general the cheapest ``b >= 0`` with
    ``Q(a^p) + b >= Q(a) + nudge`` for every ``a != a^p`` (the min-pay LP with an identity outcome matrix).
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

    ``own_rewards``, ``min_pays``: ``[B, N]``; ``next_q_target``: ``[B, N, A]``; ``dones``: ``[B]``. Returns ``[B]``.
    """
    reward = (own_rewards - alpha * min_pays).sum(-1)
    return reward + gamma * (1.0 - dones) * next_q_target.max(-1).values.sum(-1)


def resample_follow_bits(
    bits: np.ndarray, episode_done: np.ndarray, follow_prob: float, rng: np.random.Generator
) -> np.ndarray:
    """New per-episode follow bits ``[B, N]`` for the envs whose episode just ended; others keep theirs."""
    fresh = rng.random(bits.shape) < follow_prob
    return np.where(episode_done[:, None], fresh, bits)


def others_following(bits: np.ndarray) -> np.ndarray:
    """``f_-i`` for every agent as the share of the *other* agents that follow: ``[B, N]`` -> ``[B, N, 1]``.

    For two agents this is the other agent's bit.
    """
    n = bits.shape[1]
    counts = bits.sum(axis=1, keepdims=True) - bits
    return (counts / (n - 1)).astype(np.float32)[..., None]


def taken_actions(bits: np.ndarray, recommended: np.ndarray, selfish: np.ndarray) -> np.ndarray:
    """Followers (``f_i = 1``) take the recommendation, deviators their selfish action."""
    return np.where(bits.astype(bool), recommended, selfish)


def one_hot_contracts(recommended: np.ndarray, amounts: np.ndarray, n_actions: int) -> np.ndarray:
    """Contract rows ``[B, N, A]`` paying ``amounts`` for the recommended action only."""
    return (np.eye(n_actions, dtype=np.float32)[recommended] * amounts[..., None]).astype(np.float32)


# ---------------------------------------------------------------------------- schedules and replay
def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    slope = (end_e - start_e) / max(duration, 1)
    return max(slope * t + start_e, end_e)


def exponential_lr(start: float, end: float, total: int, t: int) -> float:
    """Learning rate annealed exponentially from ``start`` to ``end`` over ``total`` iterations."""
    return start * (end / start) ** min(t / max(total, 1), 1.0)


class SumTree:
    """Priorities of a ring buffer's slots in a binary sum tree: batched O(log n) sampling and updates."""

    def __init__(self, capacity: int) -> None:
        self.leaves = 1 << max(capacity - 1, 1).bit_length()
        self.tree = np.zeros(2 * self.leaves)
        self.max_priority = 1.0

    def update(self, idx: np.ndarray, priorities: np.ndarray) -> None:
        pos = np.asarray(idx) + self.leaves
        self.tree[pos] = priorities
        self.max_priority = max(self.max_priority, float(np.max(priorities)))
        pos = np.unique(pos // 2)
        while pos[0] >= 1:
            self.tree[pos] = self.tree[2 * pos] + self.tree[2 * pos + 1]
            if pos[0] == 1:
                break
            pos = np.unique(pos // 2)

    def sample(self, rng: np.random.Generator, n: int, filled: int) -> np.ndarray:
        """``n`` slots drawn proportionally to their priority (stratified, as Schaul et al.)."""
        u = (np.arange(n) + rng.random(n)) * (self.tree[1] / n)
        pos = np.ones(n, dtype=np.int64)
        while pos[0] < self.leaves:
            left = self.tree[2 * pos]
            right = u >= left
            u = np.where(right, u - left, u)
            pos = 2 * pos + right
        return np.minimum(pos - self.leaves, filled - 1)  # float rounding can step past the last filled slot


class JointReplay:
    """Replay of joint transitions: frames ``[N, C, G, G]`` (uint8), side inputs, actions, rewards.

    Uniform sampling, or proportional to priorities (``prioritized``: one ``SumTree`` per learner, named by
    ``learners``; new transitions get the learner's largest priority so far).
    """

    def __init__(
        self,
        capacity: int,
        n_agents: int,
        obs_shape: tuple[int, ...],
        extra_dim: int,
        rng: np.random.Generator,
        learners: tuple[str, ...] = (),
        per_alpha: float = 0.4,
        per_eps: float = 1e-7,
    ) -> None:
        self.capacity, self.rng, self.size, self.pos = capacity, rng, 0, 0
        self.obs = np.zeros((capacity, n_agents, *obs_shape), dtype=np.uint8)
        self.next_obs = np.zeros_like(self.obs)
        self.extra = np.zeros((capacity, n_agents, extra_dim), dtype=np.float32)
        self.next_extra = np.zeros_like(self.extra)
        self.actions = np.zeros((capacity, n_agents), dtype=np.int64)
        self.rewards = np.zeros((capacity, n_agents), dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)
        self.trees = {name: SumTree(capacity) for name in learners}
        self.per_alpha, self.per_eps = per_alpha, per_eps

    def add(self, **arrays: np.ndarray) -> None:
        n = len(arrays["obs"])
        idx = (self.pos + np.arange(n)) % self.capacity
        for key, value in arrays.items():
            getattr(self, key)[idx] = value
        for tree in self.trees.values():
            tree.update(idx, np.full(n, tree.max_priority))
        self.pos = int((self.pos + n) % self.capacity)
        self.size = min(self.size + n, self.capacity)

    def sample(self, batch_size: int, device: torch.device, learner: str | None = None) -> dict[str, torch.Tensor]:
        if learner in self.trees:
            idx = self.trees[learner].sample(self.rng, batch_size, self.size)
        else:
            idx = self.rng.integers(0, self.size, batch_size)
        keys = ("obs", "next_obs", "extra", "next_extra", "actions", "rewards", "dones")
        batch = {k: torch.as_tensor(getattr(self, k)[idx]).to(device) for k in keys}
        batch["index"] = idx
        return batch

    def update_priorities(self, learner: str, idx: np.ndarray, td_errors: torch.Tensor) -> None:
        if learner in self.trees:
            priority = (td_errors.detach().abs().cpu().numpy().astype(np.float64) + self.per_eps) ** self.per_alpha
            self.trees[learner].update(idx, priority)


def frames_of(obs: dict, agents: list[str]) -> np.ndarray:
    """Per-agent grid frames -> ``[B, N, C, G, G]`` (works with and without a principal)."""
    return np.stack([obs[a]["grid"] if isinstance(obs[a], dict) else obs[a] for a in agents], axis=1)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def gradient_step(network: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor, max_norm: float) -> None:
    optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(network.parameters(), max_norm)
    optimizer.step()


def dqn_update(
    network: CoinQNetwork,
    target: CoinQNetwork,
    optimizer: torch.optim.Optimizer,
    batch: dict,
    gamma: float,
    max_grad_norm: float,
    also_score: torch.Tensor | None = None,
) -> tuple[float, torch.Tensor, torch.Tensor | None]:
    """One independent-DQN step of a shared agent network on every agent's sample of the batch.

    Returns the loss, the mean |TD error| per joint transition and, if ``also_score`` (side inputs ``[B, N, E]``) is
    given, the pre-update Q-values of the batch's frames with those side inputs (one shared convolution pass).
    """
    with torch.no_grad():
        next_max = q_values(target, batch["next_obs"], batch["next_extra"]).max(-1).values
        y = batch["rewards"] + gamma * (1.0 - batch["dones"])[:, None] * next_max
    if also_score is None:
        q_all, scored = q_values(network, batch["obs"], batch["extra"]), None
    else:
        q_all, scored = q_values_two_inputs(network, batch["obs"], batch["extra"], also_score)
    q = q_all.gather(-1, batch["actions"][..., None]).squeeze(-1)
    loss = F.smooth_l1_loss(q, y)
    gradient_step(network, optimizer, loss, max_grad_norm)
    return loss.item(), (q - y).abs().mean(-1), scored


class PhaseStats:
    """Per-episode welfare, payments and follow counts of finished episodes, averaged over a window."""

    def __init__(self, num_envs: int) -> None:
        self.welfare: list[float] = []
        self.payments: list[float] = []
        self.followed: list[float] = []
        self.recommended: list[float] = []
        self._followed = np.zeros(num_envs)
        self._recommended = np.zeros(num_envs)

    def step(self, follows: np.ndarray) -> None:
        self._followed += follows.sum(1)
        self._recommended += follows.shape[1]

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
        nan = float("nan")
        return {
            "welfare": float(w.mean()) if len(w) else nan,
            "welfare_se": float(w.std(ddof=1) / np.sqrt(len(w))) if len(w) > 1 else nan,
            "payment_share": float(np.sum(self.payments[-window:]) / np.sum(w)) if len(w) and np.sum(w) > 0 else nan,
            "payments": float(np.mean(self.payments[-window:])) if len(w) else nan,
            "follow_rate": float(np.sum(self.followed[-window:]) / rec) if rec > 0 else nan,
            "episodes": float(len(self.welfare)),
        }


class FrozenPrincipal:
    """The trained principal: greedy VDN recommendations, min-pay contracts from its agent model ``Q_phi``."""

    def __init__(self, principal_q: CoinQNetwork, agent_q: CoinQNetwork, args: Args, device: torch.device) -> None:
        self.principal_q, self.agent_q, self.device = principal_q.eval(), agent_q.eval(), device
        self.nudge, self.cap = args.nudge, args.payment_cap

    @torch.no_grad()
    def offer(self, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Recommendations ``[B, N]`` and amounts ``[B, N]`` (float32; others assumed to follow)."""
        x = torch.as_tensor(frames).to(self.device)
        rec = q_values(self.principal_q, x).argmax(-1)
        all_follow = torch.ones(*x.shape[:2], 1, device=self.device)
        amounts = min_pay_amounts(q_values(self.agent_q, x, all_follow), rec, self.nudge).clamp(max=self.cap)
        return rec.cpu().numpy(), amounts.float().cpu().numpy()


@torch.no_grad()
def greedy_validators(validators: CoinQNetwork, frames: np.ndarray, rec: np.ndarray, device: torch.device):
    """Greedy validation-agent actions ``[B, N]`` given frames and recommendations."""
    n_actions = validators.out.out_features
    rec_in = torch.as_tensor(np.eye(n_actions, dtype=np.float32)[rec]).to(device)
    return q_values(validators, torch.as_tensor(frames).to(device), rec_in).argmax(-1).cpu().numpy()


# ---------------------------------------------------------------------------- exact evaluation (two agents)
class TwoAgentCoinGameDP:
    """Exact finite-horizon DP on a two-agent Coin Game whose principal and agents play frozen stationary policies.

    States at the start of a round: (agent_0 cell, agent_1 cell, coin cell, coin colour), ``S = 2 G^6``; the
    round index is the DP stage. Dynamics re-derived from the documented rules (toroidal moves, landing and tie
    rule, +own/+other coin rewards, respawn uniform over the free cells with the next colour, start distribution).
    ``evaluate`` returns each player's expected episode totals when every action is fixed by a policy table, and
    when one agent instead best-responds (maximises its own reward + payment) to the others' frozen policies.
    """

    def __init__(self, rules) -> None:
        unsupported = {
            "n_agents": rules.n_agents != 2,
            "coins": rules.coins not in ("cycle", "random"),
            "inner_episode_length": rules.inner_episode_length is not None,
            "start_overlap": rules.start_overlap,
            "owner_penalty": rules.owner_penalty != 0.0,
            "asymmetric_bonus": rules.asymmetric_bonus != 0.0,
            "obs_view": rules.obs_view != "swap" or rules.obs_layout != "chw",
        }
        bad = [k for k, v in unsupported.items() if v]
        if bad:
            raise ValueError(f"TwoAgentCoinGameDP: rule(s) {bad} not supported ({rules})")
        self.rules = rules
        g = rules.grid_size
        self.cells = c = g * g
        rows, cols = np.divmod(np.arange(c), g)
        steps = np.array([(0, 1), (0, -1), (1, 0), (-1, 0), (0, 0)][: rules.n_actions])
        self.move = ((rows[:, None] + steps[:, 0]) % g) * g + (cols[:, None] + steps[:, 1]) % g
        self.shape = (c, c, c, 2)
        self.a0, self.a1, self.coin, self.colour = (x.ravel() for x in np.indices(self.shape))
        self.n_states = self.a0.size

    def frames_of_agent_0(self) -> np.ndarray:
        """agent_0's swap-view frame ``[S, 4, G, G]`` (uint8) in every state: ``[self, other, own, other coin]``."""
        g, s = self.rules.grid_size, self.n_states
        out = np.zeros((s, 4, self.cells), dtype=np.uint8)
        rows = np.arange(s)
        out[rows, 0, self.a0] = 1
        out[rows, 1, self.a1] = 1
        out[rows, np.where(self.colour == 0, 2, 3), self.coin] = 1
        return out.reshape(s, 4, g, g)

    def swapped(self) -> np.ndarray:
        """Index of every state with the agents and the colours exchanged (agent_1's view is agent_0's there)."""
        return self.index(self.a1, self.a0, self.coin, 1 - self.colour)

    def index(self, a0: np.ndarray, a1: np.ndarray, coin: np.ndarray, colour: np.ndarray) -> np.ndarray:
        return ((a0 * self.cells + a1) * self.cells + coin) * 2 + colour

    def _respawn_mean(self, values: np.ndarray) -> np.ndarray:
        """``[C, C, 2, Q]``: mean of ``values [S, Q]`` over a coin spawned on a free cell, given agent cells, colour."""
        c, q = self.cells, values.shape[1]
        table = values.reshape(c, c, c, 2, q)
        total = table.sum(axis=2)
        if self.rules.spawn_on_agents:
            return total / c
        x, y = np.meshgrid(np.arange(c), np.arange(c), indexing="ij")
        on_x = table[x, y, x]  # [C, C, 2, Q]: the coin on agent_0's cell
        on_y = table[x, y, y]
        apart = (x != y)[..., None, None]
        return (total - on_x - apart * on_y) / (c - 1 - apart)

    def _next_colour_mean(self, respawn: np.ndarray) -> np.ndarray:
        """Continuation after a coin of colour k is taken: ``[C, C, 2(k), Q]``."""
        if self.rules.coins == "cycle":
            return respawn[:, :, ::-1]
        return np.repeat(respawn.mean(axis=2, keepdims=True), 2, axis=2)

    def _coin_rewards(self, land0: np.ndarray, land1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Expected own rewards of both agents from the landings (tie rule applied)."""
        r = self.rules
        value = [np.where(self.colour == i, r.own_coin_reward, r.other_coin_reward) for i in (0, 1)]
        both = land0 & land1
        share = {"all": (1.0, 1.0), "first": (1.0, 0.0), "random": (0.5, 0.5)}[r.tie_rule]
        r0 = value[0] * np.where(both, share[0], land0)
        r1 = value[1] * np.where(both, share[1], land1)
        return r0, r1

    def _round(self, actions: np.ndarray, recommended: np.ndarray, amounts: np.ndarray):
        """The time-independent pieces of a round under joint actions ``[S, 2]``: whether the coin is taken, the next
        state if not, the (cells after the moves, colour) row of the respawn table if so, and the step's
        ``utility_0, utility_1, welfare, payments, follow_0, follow_1`` ``[S, 6]``."""
        p0, p1 = self.move[self.a0, actions[:, 0]], self.move[self.a1, actions[:, 1]]
        land0, land1 = p0 == self.coin, p1 == self.coin
        r0, r1 = self._coin_rewards(land0, land1)
        follow = actions == recommended
        pay = np.where(follow, amounts, 0.0)
        step = np.stack([r0 + pay[:, 0], r1 + pay[:, 1], r0 + r1, pay.sum(1), follow[:, 0], follow[:, 1]], axis=1)
        after = (p0 * self.cells + p1) * 2 + self.colour
        return (land0 | land1)[:, None], self.index(p0, p1, self.coin, self.colour), after, step

    def _continuation(self, values: np.ndarray) -> np.ndarray:
        """``[C * C * 2, Q]``: expected next values after a coin of each colour is taken, by cells after the moves."""
        return self._next_colour_mean(self._respawn_mean(values)).reshape(-1, values.shape[1])

    def _start_mean(self, values: np.ndarray) -> np.ndarray:
        """Mean over the start distribution: distinct agent cells, a coin on a free cell, a uniform colour."""
        start = self._respawn_mean(values).mean(axis=2)
        return start[~np.eye(self.cells, dtype=bool)].mean(axis=0)

    def evaluate(self, actions: np.ndarray, recommended: np.ndarray, amounts: np.ndarray) -> dict[str, float]:
        """Expected episode totals from the start when every action is fixed: ``actions``, ``recommended``,
        ``amounts`` ``[S, 2]`` (paid iff the action is the recommendation). Returns ``utility_0``, ``utility_1`` (own
        reward + payment), ``welfare`` (sum of own rewards), ``payments``, ``follow_0``, ``follow_1`` (expected
        rounds following)."""
        taken, nxt, after, step = self._round(actions, recommended, amounts)
        values = np.zeros_like(step)
        for _ in range(self.rules.horizon):
            values = step + np.where(taken, self._continuation(values)[after], values[nxt])
        names = ("utility_0", "utility_1", "welfare", "payments", "follow_0", "follow_1")
        return {name: float(v) for name, v in zip(names, self._start_mean(values), strict=True)}

    def best_response_value(
        self, actions: np.ndarray, recommended: np.ndarray, amounts: np.ndarray, responder: int
    ) -> float:
        """Expected episode utility of agent ``responder`` best-responding (finite-horizon value iteration) while the
        other agent's actions stay as in ``actions`` and the principal's offer is fixed."""
        rounds = []
        for choice in range(self.move.shape[1]):
            act = actions.copy()
            act[:, responder] = choice
            taken, nxt, after, step = self._round(act, recommended, amounts)
            rounds.append((taken, nxt, after, step[:, [responder]]))
        values = np.zeros((self.n_states, 1))
        for _ in range(self.rules.horizon):
            continuation = self._continuation(values)
            totals = [step + np.where(taken, continuation[after], values[nxt]) for taken, nxt, after, step in rounds]
            values = np.max(totals, axis=0)
        return float(self._start_mean(values)[0])


@torch.no_grad()
def frozen_policy_tables(dp: TwoAgentCoinGameDP, principal: FrozenPrincipal, validators: CoinQNetwork, device):
    """Recommendations, amounts and the validation agents' greedy actions in every state (``[S, 2]`` each).

    The networks are shared and agent_1's frame in a state is agent_0's frame in the swapped state (agents and
    colours exchanged), so only agent_0's frames are evaluated.
    """
    frames = dp.frames_of_agent_0()
    rec, amounts, act = [], [], []
    for start in range(0, len(frames), 1024):  # small chunks: large conv batches run slower on CPU
        chunk = frames[start : start + 1024, None]
        r, m = principal.offer(chunk)
        rec.append(r[:, 0])
        amounts.append(m[:, 0])
        act.append(greedy_validators(validators, chunk, r, device)[:, 0])
    swap = dp.swapped()
    rec, amounts, act = (np.stack([x, x[swap]], axis=1) for x in (np.concatenate(v) for v in (rec, amounts, act)))
    return rec, amounts.astype(np.float64), act


def exact_evaluation(rules, principal: FrozenPrincipal, validators: CoinQNetwork, device) -> dict[str, float]:
    """Exact expected welfare and payments of the deployed system, and PARL's IC / SPE ratios by exact DP.

    IC ratio (PARL Fig. 2e): agent i's best-response value over its value of following the recommendations while
    the other agent plays its validation policy; SPE ratio (Fig. 2d): the same while the other agent follows.
    The best response is computed exactly given the frozen principal and the other agent's frozen policy, so the
    evaluated validation agent never rates itself. Both agents' ratios are averaged. ``*_ratio_binary``: the same
    over PARL's binary strategy space only (follow throughout, or ignore the contracts throughout and play the best
    unpaid policy), the space its dominant-strategy incentive compatibility (Eq. 5) is stated on.
    """
    dp = TwoAgentCoinGameDP(rules)
    rec, amounts, validator_actions = frozen_policy_tables(dp, principal, validators, device)
    deployed = dp.evaluate(validator_actions, rec, amounts)
    welfare = deployed["welfare"]
    out = {
        "exact_welfare": welfare,
        "exact_payments": deployed["payments"],
        "exact_payment_share": deployed["payments"] / welfare if welfare > 0 else float("nan"),
        "exact_follow_rate": (deployed["follow_0"] + deployed["follow_1"]) / (2 * rules.horizon),
        "exact_all_follow_welfare": dp.evaluate(rec, rec, amounts)["welfare"],
    }
    no_pay = np.zeros_like(amounts)
    for condition, others in (("ic", validator_actions), ("spe", rec)):
        ratios, gains, binary = [], [], []
        for i in (0, 1):
            fixed = others.copy()
            fixed[:, i] = rec[:, i]  # agent i follows; the other plays its validation policy (IC) or follows (SPE)
            follow = dp.evaluate(fixed, rec, amounts)[f"utility_{i}"]
            best = dp.best_response_value(fixed, rec, amounts, i)
            ratios.append(best / follow if follow > 0 else float("nan"))
            gains.append(best - follow)
            out[f"{condition}_ratio_agent_{i}"] = ratios[-1]
            # PARL's binary strategy space: follow throughout, or deviate throughout with the best policy that
            # ignores contracts (never paid), against the same others
            deviate = dp.best_response_value(fixed, rec, no_pay, i)
            binary.append(max(follow, deviate) / follow if follow > 0 else float("nan"))
        out[f"{condition}_ratio"] = float(np.mean(ratios))
        out[f"{condition}_deviation_gain"] = float(np.mean(gains))
        out[f"{condition}_ratio_binary"] = float(np.mean(binary))
    # how much a validation agent could gain by best-responding to the principal and the other validation agent
    gains = [dp.best_response_value(validator_actions, rec, amounts, i) - deployed[f"utility_{i}"] for i in (0, 1)]
    out["validators_exploitability"] = float(np.mean(gains))
    return out


# ---------------------------------------------------------------------------- evaluation episodes
def run_validation_episodes(
    principal: FrozenPrincipal, validators: CoinQNetwork, args: Args, episodes: int, seed: int, device: torch.device
) -> dict[str, float]:
    """Greedy validation agents against the frozen principal: welfare, payments, payment share, follow rate."""
    num_envs = min(episodes, 256)
    envs = make_envs(args, num_envs, seed)
    agents, n_actions = envs.agents, envs.game.n_actions
    obs, _ = envs.reset(seed=seed)
    stats = PhaseStats(num_envs)
    while len(stats.welfare) < episodes:
        frames = frames_of(obs, agents)
        rec, amounts = principal.offer(frames)
        envs.step({PRINCIPAL: one_hot_contracts(rec, amounts, n_actions)})
        actions = greedy_validators(validators, frames, rec, device)
        obs, _, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(agents)})
        stats.step(actions == rec)
        done = truncs[agents[0]]
        if done.any():
            stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
    return stats.summary(episodes)


def evaluate(
    principal: FrozenPrincipal, validators: CoinQNetwork, args: Args, reference: tuple[str, float], device
) -> dict[str, float]:
    """The headline metrics of a frozen principal and its validation agents."""
    start = time.time()
    episodes = run_validation_episodes(principal, validators, args, args.eval_episodes, args.seed + 10_000, device)
    kind, value = reference
    out = {f"eval_{k}": v for k, v in episodes.items()}
    out[f"welfare_{kind}"] = value
    out[f"eval_welfare_fraction_of_{kind}"] = episodes["welfare"] / value
    if args.exact_evaluation and args.n_agents == 2:
        rules = make_envs(args, 1, 0).game.rules
        exact = exact_evaluation(rules, principal, validators, device)
        out |= exact
        out[f"exact_welfare_fraction_of_{kind}"] = exact["exact_welfare"] / value
    out["evaluation_wall_clock_s"] = time.time() - start
    return out


# ---------------------------------------------------------------------------- run folder and metrics.json
def versions() -> dict:
    return {
        "contract_envs": getattr(contract_envs, "__version__", "unknown"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
    }


def write_metrics(run_dir: str, args: Args, final: dict, history: list, wall: float, eval_: dict | None) -> dict:
    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": ENV_ID,
        "env_kwargs": env_kwargs(args),
        "seed": args.seed,
        "args": dataclasses.asdict(args),
        "final": {k: float(v) for k, v in final.items()},
        "history": history,
        "wall_clock_s": float(wall),
        "versions": versions(),
        "eval": eval_,
    }
    for path in filter(None, (os.path.join(run_dir, "metrics.json"), args.metrics_path)):
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w") as fh:
            json.dump(metrics, fh, indent=1)
    return metrics


def build_networks(grid_size: int, n_actions: int, device: torch.device) -> dict[str, CoinQNetwork]:
    return {
        "principal_q": CoinQNetwork(grid_size, n_actions).to(device),
        "agent_q": CoinQNetwork(grid_size, n_actions, extra_inputs=1).to(device),
        "validators": CoinQNetwork(grid_size, n_actions, extra_inputs=n_actions).to(device),
    }


def seed_everything(args: Args) -> torch.device:
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    return torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")


# ---------------------------------------------------------------------------- training phase
def train_principal(args: Args, nets: dict, device, writer, history: list, reference) -> dict[str, float]:
    """PARL's training phase: the principal's VDN q_theta and its agent model Q_phi learn together."""
    envs = make_envs(args, args.num_envs, args.seed)
    agents, grid_size, n_actions = envs.agents, envs.game.rules.grid_size, envs.game.n_actions
    n, b = len(agents), args.num_envs
    rng = np.random.default_rng(args.seed)
    principal_q, agent_q = nets["principal_q"], nets["agent_q"]
    principal_target = CoinQNetwork(grid_size, n_actions).to(device)
    agent_target = CoinQNetwork(grid_size, n_actions, extra_inputs=1).to(device)
    principal_target.load_state_dict(principal_q.state_dict())
    agent_target.load_state_dict(agent_q.state_dict())
    principal_opt = torch.optim.Adam(principal_q.parameters(), lr=args.learning_rate)
    agent_opt = torch.optim.Adam(agent_q.parameters(), lr=args.learning_rate)
    learners = ("principal", "agents") if args.prioritized_replay else ()
    obs_shape = envs.observation_space(agents[0])["grid"].shape
    rb = JointReplay(
        args.buffer_size, n, obs_shape, 1, np.random.default_rng(args.seed + 1), learners, args.per_alpha, args.per_eps
    )
    obs, _ = envs.reset(seed=args.seed)
    frames = frames_of(obs, agents)
    bits = resample_follow_bits(np.zeros((b, n), dtype=bool), np.ones(b, dtype=bool), args.follow_prob, rng)
    stats = PhaseStats(b)
    iterations = max(1, args.total_env_steps // b)
    decay = int(args.exploration_fraction * iterations)
    ones = torch.ones(b, n, 1, device=device)
    start, last_logged, updates = time.time(), 0, 0
    for iteration in tqdm(range(iterations), desc="PARL training", mininterval=10):
        epsilon = linear_schedule(args.start_e, args.end_e, decay, iteration)
        f_others = others_following(bits)
        x = torch.as_tensor(frames).to(device)
        with torch.no_grad():
            recommended = q_values(principal_q, x).argmax(-1)
            q_selfish, q_all_follow = q_values_two_inputs(agent_q, x, torch.as_tensor(f_others).to(device), ones)
            selfish = q_selfish.argmax(-1).cpu().numpy()
        explore = rng.random((2, b, n)) < epsilon
        recommended = np.where(explore[0], rng.integers(0, n_actions, (b, n)), recommended.cpu().numpy())
        selfish = np.where(explore[1], rng.integers(0, n_actions, (b, n)), selfish)
        amounts = min_pay_amounts(q_all_follow, torch.as_tensor(recommended).to(device), args.nudge)
        amounts = amounts.clamp(max=args.payment_cap).cpu().numpy()
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
            dones=np.zeros(b),
        )
        stats.step(actions == recommended)
        if done.any():
            stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
            bits = resample_follow_bits(bits, done, args.follow_prob, rng)
        frames = next_frames

        if rb.size >= args.learning_starts:
            lr = exponential_lr(args.learning_rate, args.end_learning_rate, iterations, iteration)
            set_lr(principal_opt, lr)
            set_lr(agent_opt, lr)
            for _ in range(args.updates_per_iteration):
                batch = rb.sample(args.batch_size, device, "agents")
                all_follow = torch.ones(*batch["obs"].shape[:2], 1, device=device)
                # the contracts of the principal's targets come from the agent model before this step (one conv pass)
                agent_loss, agent_td, q_follow = dqn_update(
                    agent_q, agent_target, agent_opt, batch, args.gamma, args.max_grad_norm, also_score=all_follow
                )
                rb.update_priorities("agents", batch["index"], agent_td)
                if args.prioritized_replay:  # each learner draws by its own priorities
                    batch = rb.sample(args.batch_size, device, "principal")
                    with torch.no_grad():
                        q_follow = q_values(agent_q, batch["obs"], all_follow)
                with torch.no_grad():
                    pays = min_pay_amounts(q_follow, batch["actions"], args.nudge)
                    y = vdn_targets(
                        batch["rewards"],
                        pays.clamp(max=args.payment_cap),
                        q_values(principal_target, batch["next_obs"]),
                        batch["dones"],
                        args.gamma,
                        args.alpha,
                    )
                q_all = q_values(principal_q, batch["obs"]).gather(-1, batch["actions"][..., None]).squeeze(-1)
                q_tot = q_all.sum(-1)
                principal_loss = F.smooth_l1_loss(q_tot, y)
                gradient_step(principal_q, principal_opt, principal_loss, args.max_grad_norm)
                rb.update_priorities("principal", batch["index"], q_tot - y)
                updates += 1
                if updates % args.target_network_frequency == 0:
                    principal_target.load_state_dict(principal_q.state_dict())
                    agent_target.load_state_dict(agent_q.state_dict())
            if iteration % 100 == 0:
                writer.add_scalar("losses/principal_loss", principal_loss.item(), iteration)
                writer.add_scalar("losses/agent_loss", agent_loss, iteration)
                writer.add_scalar("losses/principal_q", q_tot.mean().item(), iteration)
                writer.add_scalar("charts/mean_min_pay", float(amounts.mean()), iteration)
        if len(stats.welfare) - last_logged >= args.log_window:
            last_logged = len(stats.welfare)
            s = stats.summary(args.log_window)
            log_point(writer, history, "training", s, (iteration + 1) * b, start, reference)
    wall = time.time() - start
    summary = stats.summary(args.log_window)
    return {f"training_{k}": v for k, v in summary.items()} | {
        "training_wall_clock_s": wall,
        "training_env_steps": float(iterations * b),
        "training_env_steps_per_s": iterations * b / wall,
        "training_updates": float(updates),
    }


def log_point(writer, history: list, phase: str, s: dict, env_steps: int, start: float, reference) -> None:
    kind, value = reference
    point = {"step": int(env_steps), "phase": phase, **s, f"welfare_fraction_of_{kind}": s["welfare"] / value}
    history.append(point)
    for key in ("welfare", "payment_share", "follow_rate", f"welfare_fraction_of_{kind}"):
        writer.add_scalar(f"{phase}/{key}", point[key], env_steps)
    writer.add_scalar(f"charts/{phase}_SPS", int(env_steps / max(time.time() - start, 1e-9)), env_steps)


# ---------------------------------------------------------------------------- validation phase
def train_validators(
    args: Args, principal: FrozenPrincipal, validators: CoinQNetwork, device, writer, history: list, reference
) -> dict[str, float]:
    """PARL's validation phase: fresh selfish DQN agents learn against the frozen principal."""
    b = args.num_envs
    envs = make_envs(args, b, args.seed + 5_000)
    agents, grid_size, n_actions = envs.agents, envs.game.rules.grid_size, envs.game.n_actions
    n = len(agents)
    rng = np.random.default_rng(args.seed + 3)
    target = CoinQNetwork(grid_size, n_actions, extra_inputs=n_actions).to(device)
    target.load_state_dict(validators.state_dict())
    optimizer = torch.optim.Adam(validators.parameters(), lr=args.learning_rate)
    learners = ("validators",) if args.prioritized_replay else ()
    obs_shape = envs.observation_space(agents[0])["grid"].shape
    replay_rng = np.random.default_rng(args.seed + 2)
    rb = JointReplay(args.buffer_size, n, obs_shape, n_actions, replay_rng, learners, args.per_alpha, args.per_eps)
    obs, _ = envs.reset(seed=args.seed + 5_000)
    frames = frames_of(obs, agents)
    stats = PhaseStats(b)
    eye = np.eye(n_actions, dtype=np.float32)
    iterations = max(1, (args.validation_env_steps or args.total_env_steps) // b)
    decay = int(args.exploration_fraction * iterations)
    rec, amounts = principal.offer(frames)
    start, last_logged, updates = time.time(), 0, 0
    for iteration in tqdm(range(iterations), desc="PARL validation", mininterval=10):
        epsilon = linear_schedule(args.start_e, args.end_e, decay, iteration)
        envs.step({PRINCIPAL: one_hot_contracts(rec, amounts, n_actions)})
        actions = greedy_validators(validators, frames, rec, device)
        actions = np.where(rng.random((b, n)) < epsilon, rng.integers(0, n_actions, (b, n)), actions)
        obs, rewards, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(agents)})
        next_frames = frames_of(obs, agents)
        done = truncs[agents[0]]
        real_next = next_frames
        if done.any():
            real_next = next_frames.copy()
            real_next[done] = frames_of(envs.final_observations, agents)[done]
        # the next recommendation is part of the validation agents' next observation
        next_rec, next_amounts = principal.offer(real_next)
        utilities = np.stack([rewards[a] for a in agents], axis=1)  # own reward + payment (paid iff followed)
        rb.add(
            obs=frames,
            next_obs=real_next,
            extra=eye[rec],
            next_extra=eye[next_rec],
            actions=actions,
            rewards=utilities,
            dones=np.zeros(b),
        )
        stats.step(actions == rec)
        if done.any():
            stats.end(done, infos[PRINCIPAL]["episode_welfare"], infos[PRINCIPAL]["episode_payment"])
            next_rec, next_amounts = principal.offer(next_frames)
        frames, rec, amounts = next_frames, next_rec, next_amounts

        if rb.size >= args.learning_starts:
            set_lr(optimizer, exponential_lr(args.learning_rate, args.end_learning_rate, iterations, iteration))
            for _ in range(args.updates_per_iteration):
                batch = rb.sample(args.batch_size, device, "validators")
                loss, td, _ = dqn_update(validators, target, optimizer, batch, args.gamma, args.max_grad_norm)
                rb.update_priorities("validators", batch["index"], td)
                updates += 1
                if updates % args.target_network_frequency == 0:
                    target.load_state_dict(validators.state_dict())
            if iteration % 100 == 0:
                writer.add_scalar("losses/validation_loss", loss, iteration)
        if len(stats.welfare) - last_logged >= args.log_window:
            last_logged = len(stats.welfare)
            s = stats.summary(args.log_window)
            log_point(writer, history, "validation", s, (iteration + 1) * b, start, reference)
    wall = time.time() - start
    summary = stats.summary(args.log_window)
    return {f"validation_{k}": v for k, v in summary.items()} | {
        "validation_wall_clock_s": wall,
        "validation_env_steps": float(iterations * b),
        "validation_env_steps_per_s": iterations * b / wall,
        "validation_updates": float(updates),
    }


# ---------------------------------------------------------------------------- main
def main(args: Args) -> dict:
    if args.eval_checkpoint:
        return evaluate_checkpoint(args)
    check_args(args)
    run_dir = os.path.join(args.runs_dir, f"{ALGORITHM}__coin_game__{args.seed}__{int(time.time())}")
    if args.track:
        import wandb

        wandb.init(
            project=args.wandb_project_name,
            entity=args.wandb_entity,
            sync_tensorboard=True,
            config=vars(args),
            name=os.path.basename(run_dir),
            save_code=True,
        )
    writer = SummaryWriter(run_dir)
    table = "\n".join(f"|{k}|{v}|" for k, v in vars(args).items())
    writer.add_text("hyperparameters", "|param|value|\n|-|-|\n" + table)
    device = seed_everything(args)
    start, load_start = time.time(), os.getloadavg()[0]
    reference = welfare_reference(args)
    rules = make_envs(args, 1, 0).game.rules
    nets = build_networks(rules.grid_size, rules.n_actions, device)
    history: list[dict] = []
    final = train_principal(args, nets, device, writer, history, reference)
    principal = FrozenPrincipal(nets["principal_q"], nets["agent_q"], args, device)
    final |= train_validators(args, principal, nets["validators"], device, writer, history, reference)
    final |= evaluate(principal, nets["validators"].eval(), args, reference, device)
    wall = time.time() - start
    final |= {"wall_clock_s": wall, "load_average_start": load_start, "load_average_end": os.getloadavg()[0]}
    final["env_steps_per_s"] = (final["training_env_steps"] + final["validation_env_steps"]) / wall
    final["cuda"] = float(device.type == "cuda")
    for key, value in final.items():
        writer.add_scalar(f"final/{key}", value, 0)
    if args.save_model:
        path = os.path.join(run_dir, "model.pt")
        state_dicts = {k: v.state_dict() for k, v in nets.items()}
        torch.save({"args": dataclasses.asdict(args), "state_dicts": state_dicts}, path)
        print(f"model saved to {path}")
    metrics = write_metrics(run_dir, args, final, history, wall, None)
    print(json.dumps(metrics["final"]))
    writer.close()
    return metrics


def evaluate_checkpoint(args: Args) -> dict:
    """Load ``model.pt``, run the evaluation only and write metrics.json (with ``eval``) into a new run folder."""
    checkpoint = torch.load(args.eval_checkpoint, map_location="cpu", weights_only=False)
    saved = {k: v for k, v in checkpoint["args"].items() if k not in EVAL_OPTIONS}
    args = dataclasses.replace(args, **saved)
    check_args(args)
    device = seed_everything(args)
    run_dir = os.path.join(args.runs_dir, f"{ALGORITHM}__coin_game__{args.seed}__{int(time.time())}")
    os.makedirs(run_dir, exist_ok=True)
    start = time.time()
    rules = make_envs(args, 1, 0).game.rules
    nets = build_networks(rules.grid_size, rules.n_actions, device)
    for name, net in nets.items():
        net.load_state_dict(checkpoint["state_dicts"][name])
        net.eval()
    principal = FrozenPrincipal(nets["principal_q"], nets["agent_q"], args, device)
    final = evaluate(principal, nets["validators"], args, welfare_reference(args), device)
    evaluation = {"checkpoint": args.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps(metrics["final"]))
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
