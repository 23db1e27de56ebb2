"""Independent DQN agents on the plain Coin Game (no principal): the social dilemma and its references.

CleanRL-style single file. Two agents (red, blue) learn with one *shared-parameter* Q-network
(PARL's Coin Game network, arXiv 2407.18074 App. D.2: one 4x4 convolution 4 -> 32 channels, two
fully connected layers of 64, ReLU). Sharing is sound because the environment's default
``obs_view="swap"`` gives each agent its own frame, ``[self, other agent, own-colour coins,
other-colour coins]``: both agents face the same decision problem in their own frame.

Objectives (the baselines of PARL's Coin Game experiments, ``parl.md`` Sec. 9):

* ``--objective selfish`` (default): each agent maximises its own reward -> the dilemma (agents
  grab every coin, welfare falls short of the cooperative optimum).
* ``--objective welfare``: each agent maximises welfare ``sum_i r_i`` -> the cooperative reference.
* ``--reward-sharing p``: selfish agents on the environment's constant-proportion reward sharing
  (``r_i' = (1 - p) r_i + p mean_j r_j``, Christoffersen et al. 2023), the budget-matched baseline.

Experience comes from ``num_envs`` batched environments per iteration
(``contract_envs.vector.make``); each iteration is one batched env step plus ``updates_per_iteration``
gradient steps. Episodes of the Coin Game end by truncation only; the target bootstraps through
the time limit (the round number is not observed, so the value function is stationary).

Run: ``PYTHONPATH=. python baselines/dqn_independent.py --preset parl_3x3 --total-iterations 20000``
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
    """whether to save the model to `runs/{run_name}` and evaluate the reloaded copy"""
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
    objective: Literal["selfish", "welfare"] = "selfish"
    """`selfish`: each agent maximises its own reward; `welfare`: each maximises the sum (cooperative reference)"""
    reward_sharing: float = 0.0
    """constant proportion p of reward sharing (the environment's `reward_sharing` option)"""
    num_envs: int = 16
    """parallel environments stepped per iteration"""

    # algorithm (PARL App. D.2 defaults, prioritized replay replaced by uniform replay)
    total_iterations: int = 1_000_000
    """iterations; each = one batched env step (`num_envs` env steps) + `updates_per_iteration` updates"""
    updates_per_iteration: int = 1
    """gradient steps per iteration"""
    learning_rate: float = 5e-4
    """initial learning rate (annealed exponentially to `end_learning_rate`)"""
    end_learning_rate: float = 1e-4
    """final learning rate"""
    buffer_size: int = 100_000
    """replay capacity in joint transitions (one per env step)"""
    gamma: float = 0.99
    """discount factor"""
    target_network_frequency: int = 100
    """iterations between hard copies to the target network"""
    batch_size: int = 128
    """joint transitions per minibatch (each gives one sample per agent)"""
    start_e: float = 0.4
    """initial exploration epsilon"""
    end_e: float = 0.0
    """final exploration epsilon"""
    exploration_fraction: float = 1.0
    """fraction of `total_iterations` over which epsilon decays linearly"""
    learning_starts: int = 1_000
    """joint transitions collected before learning starts"""
    max_grad_norm: float = 10.0
    """gradient-norm clip (stabiliser of the PARL reproduction, not in the paper)"""
    log_window: int = 80
    """episodes averaged per logged point (PARL: 80)"""
    eval_episodes: int = 64
    """greedy evaluation episodes at the end"""


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


def linear_schedule(start_e: float, end_e: float, duration: int, t: int) -> float:
    slope = (end_e - start_e) / max(duration, 1)
    return max(slope * t + start_e, end_e)


def exponential_lr(start: float, end: float, total: int, t: int) -> float:
    """Learning rate annealed exponentially from ``start`` to ``end`` over ``total`` iterations."""
    return start * (end / start) ** min(t / max(total, 1), 1.0)


class JointReplay:
    """Uniform replay of joint transitions: agent frames ``[N, C, G, G]`` (uint8), actions, rewards."""

    def __init__(self, capacity: int, n_agents: int, obs_shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.capacity, self.rng, self.size, self.pos = capacity, rng, 0, 0
        self.obs = np.zeros((capacity, n_agents, *obs_shape), dtype=np.uint8)
        self.next_obs = np.zeros_like(self.obs)
        self.actions = np.zeros((capacity, n_agents), dtype=np.int64)
        self.rewards = np.zeros((capacity, n_agents), dtype=np.float32)
        self.dones = np.zeros(capacity, dtype=np.float32)

    def add(
        self, obs: np.ndarray, next_obs: np.ndarray, actions: np.ndarray, rewards: np.ndarray, dones: np.ndarray
    ) -> None:
        idx = (self.pos + np.arange(len(obs))) % self.capacity
        self.obs[idx], self.next_obs[idx], self.actions[idx] = obs, next_obs, actions
        self.rewards[idx], self.dones[idx] = rewards, dones
        self.pos = int((self.pos + len(obs)) % self.capacity)
        self.size = min(self.size + len(obs), self.capacity)

    def sample(self, batch_size: int) -> dict[str, np.ndarray]:
        idx = self.rng.integers(0, self.size, batch_size)
        return {k: getattr(self, k)[idx] for k in ("obs", "next_obs", "actions", "rewards", "dones")}


def stack_agent_obs(obs: dict[str, np.ndarray], agents: list[str]) -> np.ndarray:
    """Per-agent frames ``{agent: [B, C, G, G]}`` -> ``[B, N, C, G, G]``."""
    return np.stack([obs[a] for a in agents], axis=1)


def training_rewards(utilities: np.ndarray, own_rewards: np.ndarray, objective: str) -> np.ndarray:
    """Rewards each agent learns from: its utility (selfish) or the welfare ``sum_i r_i`` (cooperative)."""
    if objective == "welfare":
        return np.repeat(own_rewards.sum(axis=1, keepdims=True), own_rewards.shape[1], axis=1)
    return utilities


def greedy_actions(q_network: CoinQNetwork, frames: np.ndarray, device: torch.device) -> np.ndarray:
    """Greedy action of every agent of every env from its own frame: ``[B, N, C, G, G]`` -> ``[B, N]``."""
    b, n = frames.shape[:2]
    with torch.no_grad():
        q = q_network(torch.as_tensor(frames.reshape(b * n, *frames.shape[2:]), device=device))
    return q.argmax(1).cpu().numpy().reshape(b, n)


class EpisodeStats:
    """Finished-episode welfare and own-colour coin share, averaged over a window."""

    def __init__(self) -> None:
        self.welfare: list[float] = []
        self.own_coins: list[float] = []
        self.coins: list[float] = []

    def add(self, welfare: np.ndarray, own_coins: np.ndarray, coins: np.ndarray) -> None:
        self.welfare += welfare.tolist()
        self.own_coins += own_coins.tolist()
        self.coins += coins.tolist()

    def summary(self, window: int) -> dict[str, float]:
        w = np.array(self.welfare[-window:])
        own, all_ = np.sum(self.own_coins[-window:]), np.sum(self.coins[-window:])
        return {
            "welfare": float(w.mean()) if len(w) else float("nan"),
            "welfare_se": float(w.std(ddof=1) / np.sqrt(len(w))) if len(w) > 1 else float("nan"),
            "own_coin_share": float(own / all_) if all_ > 0 else float("nan"),
            "episodes": len(self.welfare),
        }


def coin_counts(own_rewards: np.ndarray, own_coin_reward: float, other_coin_reward: float) -> tuple[np.ndarray, ...]:
    """Own-colour and all coins picked per env in a step, read off the per-agent rewards ``[B, N]``."""
    own = np.isclose(own_rewards, own_coin_reward).sum(axis=1)
    other = np.isclose(own_rewards, other_coin_reward).sum(axis=1)
    return own, own + other


def evaluate(q_network: CoinQNetwork, args: Args, episodes: int, seed: int, device: torch.device) -> dict[str, float]:
    """Greedy play in fresh environments; welfare per episode and own-colour coin share."""
    num_envs = min(episodes, args.num_envs)
    envs = contract_envs.vector.make(
        ENV_ID,
        num_envs,
        seed=seed,
        preset=args.preset,
        principal=False,
        reward_sharing=args.reward_sharing,
        **rule_overrides(args),
    )
    rules = envs.game.rules
    obs, _ = envs.reset(seed=seed)
    stats = EpisodeStats()
    ep_own = np.zeros(num_envs)
    ep_all = np.zeros(num_envs)
    while len(stats.welfare) < episodes:
        actions = greedy_actions(q_network, stack_agent_obs(obs, envs.agents), device)
        obs, _, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(envs.agents)})
        own_r = np.stack([infos[a]["own_reward"] for a in envs.agents], axis=1)
        own, all_ = coin_counts(own_r, rules.own_coin_reward, rules.other_coin_reward)
        ep_own += own
        ep_all += all_
        done = truncs[envs.agents[0]]
        if done.any():
            welfare = sum(infos[a]["episode_own_reward"] for a in envs.agents)[done]
            stats.add(welfare, ep_own[done], ep_all[done])
            ep_own[done] = 0
            ep_all[done] = 0
    out = stats.summary(episodes)
    return {f"eval_{k}": v for k, v in out.items()}


def main(args: Args) -> dict:
    run_name = (
        f"coin_game__{args.exp_name}__{args.preset}__{args.objective}__p{args.reward_sharing}"
        f"__{args.seed}__{int(time.time())}"
    )
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

    envs = contract_envs.vector.make(
        ENV_ID,
        args.num_envs,
        seed=args.seed,
        preset=args.preset,
        principal=False,
        reward_sharing=args.reward_sharing,
        **rule_overrides(args),
    )
    agents, rules = envs.agents, envs.game.rules
    n_actions = envs.action_space(agents[0]).n
    obs_shape = envs.observation_space(agents[0]).shape
    q_network = CoinQNetwork(rules.grid_size, n_actions).to(device)
    target_network = CoinQNetwork(rules.grid_size, n_actions).to(device)
    target_network.load_state_dict(q_network.state_dict())
    optimizer = torch.optim.Adam(q_network.parameters(), lr=args.learning_rate)
    rb = JointReplay(args.buffer_size, len(agents), obs_shape, np.random.default_rng(args.seed))
    action_rng = np.random.default_rng(args.seed + 1)

    obs, _ = envs.reset(seed=args.seed)
    frames = stack_agent_obs(obs, agents)
    stats = EpisodeStats()
    ep_own = np.zeros(args.num_envs)
    ep_all = np.zeros(args.num_envs)
    start_time = time.time()
    history: list[dict] = []
    last_logged = 0
    decay = int(args.exploration_fraction * args.total_iterations)
    n = len(agents)
    for iteration in tqdm(range(args.total_iterations), desc=run_name[:40], mininterval=5):
        epsilon = linear_schedule(args.start_e, args.end_e, decay, iteration)
        actions = greedy_actions(q_network, frames, device)
        explore = action_rng.random(actions.shape) < epsilon
        actions = np.where(explore, action_rng.integers(0, n_actions, actions.shape), actions)
        obs, rewards, _, truncs, infos = envs.step({a: actions[:, i] for i, a in enumerate(agents)})
        next_frames = stack_agent_obs(obs, agents)
        done = truncs[agents[0]]
        real_next = next_frames
        if done.any():
            real_next = next_frames.copy()
            real_next[done] = stack_agent_obs(envs.final_observations, agents)[done]
        utilities = np.stack([rewards[a] for a in agents], axis=1)
        own_r = np.stack([infos[a]["own_reward"] for a in agents], axis=1)
        # Coin Game episodes end by truncation only: bootstrap through the time limit (dones = 0)
        rb.add(frames, real_next, actions, training_rewards(utilities, own_r, args.objective), np.zeros(len(done)))
        own, all_ = coin_counts(own_r, rules.own_coin_reward, rules.other_coin_reward)
        ep_own += own
        ep_all += all_
        if done.any():
            stats.add(sum(infos[a]["episode_own_reward"] for a in agents)[done], ep_own[done], ep_all[done])
            ep_own[done] = 0
            ep_all[done] = 0
        frames = next_frames

        if rb.size >= args.learning_starts:
            lr = exponential_lr(args.learning_rate, args.end_learning_rate, args.total_iterations, iteration)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for _ in range(args.updates_per_iteration):
                batch = rb.sample(args.batch_size)
                flat = {
                    k: torch.as_tensor(v.reshape(args.batch_size * n, *v.shape[2:]), device=device)
                    for k, v in batch.items()
                    if k != "dones"
                }
                with torch.no_grad():
                    target_max = target_network(flat["next_obs"]).max(1).values
                    td_target = flat["rewards"] + args.gamma * target_max * (
                        1 - torch.as_tensor(batch["dones"], device=device).repeat_interleave(n)
                    )
                q = q_network(flat["obs"]).gather(1, flat["actions"][:, None]).squeeze(1)
                loss = F.smooth_l1_loss(q, td_target)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q_network.parameters(), args.max_grad_norm)
                optimizer.step()
            if iteration % args.target_network_frequency == 0:
                target_network.load_state_dict(q_network.state_dict())
            if iteration % 100 == 0:
                writer.add_scalar("losses/td_loss", loss.item(), iteration)
                writer.add_scalar("losses/q_values", q.mean().item(), iteration)
                writer.add_scalar("charts/learning_rate", lr, iteration)
        if len(stats.welfare) - last_logged >= args.log_window:
            last_logged = len(stats.welfare)
            s = stats.summary(args.log_window)
            env_steps = (iteration + 1) * args.num_envs
            sps = int(env_steps / (time.time() - start_time))
            history.append({"env_steps": env_steps, **s})
            writer.add_scalar("charts/welfare", s["welfare"], env_steps)
            writer.add_scalar("charts/own_coin_share", s["own_coin_share"], env_steps)
            writer.add_scalar("charts/epsilon", epsilon, env_steps)
            writer.add_scalar("charts/SPS", sps, env_steps)

    wall = time.time() - start_time
    metrics = {
        "args": asdict(args),
        "run_name": run_name,
        "wall_clock_s": wall,
        "env_steps": args.total_iterations * args.num_envs,
        "train": stats.summary(args.log_window),
        "history": history,
    }
    metrics.update(evaluate(q_network, args, args.eval_episodes, args.seed + 10_000, device))
    if args.save_model:
        model_path = f"runs/{run_name}/{args.exp_name}.cleanrl_model"
        torch.save(q_network.state_dict(), model_path)
        print(f"model saved to {model_path}")
        reloaded = CoinQNetwork(rules.grid_size, n_actions).to(device)
        reloaded.load_state_dict(torch.load(model_path, map_location=device))
        reloaded_eval = evaluate(reloaded, args, args.eval_episodes, args.seed + 10_000, device)
        metrics["reloaded"] = reloaded_eval
        writer.add_scalar("eval/welfare_reloaded", reloaded_eval["eval_welfare"], 0)
    writer.add_scalar("eval/welfare", metrics["eval_welfare"], 0)
    metrics_path = args.metrics_path or f"runs/{run_name}/metrics.json"
    os.makedirs(os.path.dirname(metrics_path) or ".", exist_ok=True)
    with open(metrics_path, "w") as fh:
        json.dump(metrics, fh, indent=1)
    print(json.dumps({k: v for k, v in metrics.items() if k not in ("args", "history")}))
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args))
