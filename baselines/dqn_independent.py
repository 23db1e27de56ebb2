"""Independent DQN agents on the plain Coin Game (no principal): the social dilemma and its references.

CleanRL-style single file. N agents (default 2: red, blue) learn with one *shared-parameter* Q-network
(PARL's Coin Game network, arXiv 2407.18074 App. D.2: one 4x4 convolution 4 -> 32 channels, two
fully connected layers of 64, ReLU). Sharing is sound because the environment's default
``obs_view="swap"`` gives each agent its own frame, ``[self, other agents, own-colour coins,
other-colour coins]``: every agent faces the same decision problem in its own frame.

Objectives (the baselines of PARL's Coin Game experiments, ``parl.md`` Sec. 9):

* ``--objective selfish`` (default): each agent maximises its own reward -> the dilemma (agents
  grab every coin, welfare falls short of the cooperative optimum).
* ``--objective welfare``: each agent maximises welfare ``sum_i r_i`` -> a learned cooperative reference.
* ``--reward-sharing p``: selfish agents on the environment's constant-proportion reward sharing
  (``r_i' = (1 - p) r_i + p mean_j r_j``, Christoffersen et al. 2023), the budget-matched baseline.

Scored by the welfare of greedy episodes as a fraction of the exact optimum W*
(``contract_envs.solvers.solve_coin_game_welfare``, two agents) or of the proven upper bound
(``coin_game_welfare_upper_bound``, more agents), and the share of coins taken that had the taker's colour.

Experience comes from ``num_envs`` batched environments per iteration (``contract_envs.vector.make``);
each iteration is one batched env step plus ``updates_per_iteration`` gradient steps, so the budget is
counted in env-steps. Episodes of the Coin Game end by truncation only; the target bootstraps through
the time limit (the round number is not observed, so the value function is stationary).

Fastest meaningful command (3x3; about 30 s on an idle core, 5 minutes at load average 14; selfish agents reach
60% of W* = 13.90 with 52% own-colour coins, seed 1):
``PYTHONPATH=. python baselines/dqn_independent.py --preset parl_3x3 --total-env-steps 64000 --num-envs 16``
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


@dataclass
class Args:
    seed: int = 1
    """seed of the experiment (torch, numpy, random and the environments)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """if toggled, cuda will be used when available (network and minibatches on the GPU; env and replay on CPU)"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save `model.pt` (the shared Q-network) into the run folder"""
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
    tie_rule: Literal["all", "first", "random"] | None = None
    """override the preset's tie rule (`random`: a random winner, the PARL reproduction's rule; see docs)"""
    coins: Literal["cycle", "random"] | None = None
    """override the preset's coin rule (`random`: colour drawn at each spawn, the PARL reproduction's rule)"""
    n_agents: int = 2
    """agents (more than 2: welfare is scored against the proven upper bound)"""
    objective: Literal["selfish", "welfare"] = "selfish"
    """`selfish`: each agent maximises its own reward; `welfare`: each maximises the sum (cooperative reference)"""
    reward_sharing: float = 0.0
    """constant proportion p of reward sharing (the environment's `reward_sharing` option)"""
    num_envs: int = 64
    """parallel environments stepped per iteration"""

    # algorithm (PARL App. D.2 defaults, prioritized replay replaced by uniform replay)
    total_env_steps: int = 1_000_000
    """env steps (iterations x `num_envs`; each iteration also makes `updates_per_iteration` updates)"""
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
    """gradient steps between hard copies to the target network"""
    batch_size: int = 128
    """joint transitions per minibatch (each gives one sample per agent)"""
    start_e: float = 0.4
    """initial exploration epsilon"""
    end_e: float = 0.0
    """final exploration epsilon"""
    exploration_fraction: float = 1.0
    """fraction of the run over which epsilon decays linearly"""
    learning_starts: int = 1_000
    """env steps collected before learning starts"""
    max_grad_norm: float = 10.0
    """gradient-norm clip (stabiliser of the PARL reproduction, not in the paper)"""
    log_window: int = 80
    """episodes averaged per logged point (PARL: 80)"""
    eval_episodes: int = 256
    """greedy evaluation episodes at the end"""


#: options an `--eval-checkpoint` run takes from the command line; everything else comes from the checkpoint
EVAL_OPTIONS = ("eval_checkpoint", "eval_episodes", "cuda", "torch_threads", "runs_dir", "metrics_path", "track")
EVAL_OPTIONS += ("wandb_project_name", "wandb_entity")


def check_args(args: Args) -> None:
    """Reject bad arguments at once, naming the option and its allowed range."""
    positive = ("num_envs", "total_env_steps", "batch_size", "buffer_size", "target_network_frequency")
    positive += ("updates_per_iteration", "log_window", "eval_episodes", "torch_threads")
    for name in positive:
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be >= 1, got {getattr(args, name)}")
    if args.n_agents < 2:
        raise ValueError(f"--n-agents: must be >= 2, got {args.n_agents}")
    for name in ("reward_sharing", "gamma", "start_e", "end_e"):
        if not 0 <= getattr(args, name) <= 1:
            raise ValueError(f"--{name.replace('_', '-')}: must be in [0, 1], got {getattr(args, name)}")


def env_kwargs(args: Args) -> dict:
    """Keyword arguments of the environment (the preset plus the overrides given)."""
    kwargs = {"preset": args.preset, "principal": False, "n_agents": args.n_agents}
    kwargs["reward_sharing"] = args.reward_sharing
    return kwargs | {k: v for k, v in (("tie_rule", args.tie_rule), ("coins", args.coins)) if v is not None}


def make_envs(args: Args, num_envs: int, seed: int):
    return contract_envs.vector.make(ENV_ID, num_envs, seed=seed, **env_kwargs(args))


def welfare_reference(args: Args) -> tuple[str, float]:
    """Exact optimum W* (two agents) or the proven upper bound (more agents) of the welfare per episode."""
    kwargs = {k: v for k, v in env_kwargs(args).items() if k not in ("preset", "principal", "reward_sharing")}
    rules = coin_game_rules(args.preset, **kwargs)
    if rules.n_agents == 2:
        return "optimum", float(solve_coin_game_welfare(rules, store_values=False).value)
    return "upper_bound", float(coin_game_welfare_upper_bound(rules))


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
            "coins": float(all_ / len(w)) if len(w) else float("nan"),
            "episodes": float(len(self.welfare)),
        }


def coin_counts(own_rewards: np.ndarray, own_coin_reward: float, other_coin_reward: float) -> tuple[np.ndarray, ...]:
    """Own-colour and all coins picked per env in a step, read off the per-agent rewards ``[B, N]``."""
    own = np.isclose(own_rewards, own_coin_reward).sum(axis=1)
    other = np.isclose(own_rewards, other_coin_reward).sum(axis=1)
    return own, own + other


def evaluate(q_network: CoinQNetwork, args: Args, episodes: int, seed: int, device: torch.device) -> dict[str, float]:
    """Greedy play in fresh environments; welfare per episode and own-colour coin share."""
    num_envs = min(episodes, 256)
    envs = make_envs(args, num_envs, seed)
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
    return {f"eval_{k}": v for k, v in stats.summary(episodes).items()}


def scored(q_network: CoinQNetwork, args: Args, device: torch.device) -> dict[str, float]:
    """Evaluation episodes and the welfare as a fraction of the exact optimum (or the upper bound)."""
    out = evaluate(q_network, args, args.eval_episodes, args.seed + 10_000, device)
    kind, value = welfare_reference(args)
    out[f"welfare_{kind}"] = value
    out[f"eval_welfare_fraction_of_{kind}"] = out["eval_welfare"] / value
    return out


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


def seed_everything(args: Args) -> torch.device:
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic
    torch.set_num_threads(args.torch_threads)
    return torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")


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
    load_start = os.getloadavg()[0]

    envs = make_envs(args, args.num_envs, args.seed)
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
    last_logged, updates = 0, 0
    iterations = max(1, args.total_env_steps // args.num_envs)
    decay = int(args.exploration_fraction * iterations)
    n = len(agents)
    kind, reference = welfare_reference(args)
    for iteration in tqdm(range(iterations), desc=ALGORITHM, mininterval=10):
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
            lr = exponential_lr(args.learning_rate, args.end_learning_rate, iterations, iteration)
            for group in optimizer.param_groups:
                group["lr"] = lr
            for _ in range(args.updates_per_iteration):
                batch = rb.sample(args.batch_size)
                flat = {
                    k: torch.as_tensor(v.reshape(args.batch_size * n, *v.shape[2:])).to(device)
                    for k, v in batch.items()
                    if k != "dones"
                }
                with torch.no_grad():
                    target_max = target_network(flat["next_obs"]).max(1).values
                    td_target = flat["rewards"] + args.gamma * target_max * (
                        1 - torch.as_tensor(batch["dones"]).to(device).repeat_interleave(n)
                    )
                q = q_network(flat["obs"]).gather(1, flat["actions"][:, None]).squeeze(1)
                loss = F.smooth_l1_loss(q, td_target)
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(q_network.parameters(), args.max_grad_norm)
                optimizer.step()
                updates += 1
                if updates % args.target_network_frequency == 0:
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
            history.append({"step": env_steps, **s, f"welfare_fraction_of_{kind}": s["welfare"] / reference})
            writer.add_scalar("charts/welfare", s["welfare"], env_steps)
            writer.add_scalar("charts/own_coin_share", s["own_coin_share"], env_steps)
            writer.add_scalar("charts/epsilon", epsilon, env_steps)
            writer.add_scalar("charts/SPS", sps, env_steps)

    train_wall = time.time() - start_time
    final = {f"train_{k}": v for k, v in stats.summary(args.log_window).items()}
    final |= {
        "env_steps": float(iterations * args.num_envs),
        "updates": float(updates),
        "train_wall_clock_s": train_wall,
        "env_steps_per_s": iterations * args.num_envs / train_wall,
    }
    final |= scored(q_network, args, device)
    wall = time.time() - start_time
    final |= {"wall_clock_s": wall, "load_average_start": load_start, "load_average_end": os.getloadavg()[0]}
    final["cuda"] = float(device.type == "cuda")
    for key, value in final.items():
        writer.add_scalar(f"final/{key}", value, 0)
    if args.save_model:
        path = os.path.join(run_dir, "model.pt")
        state_dicts = {"q_network": q_network.state_dict()}
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
    q_network = CoinQNetwork(rules.grid_size, rules.n_actions).to(device)
    q_network.load_state_dict(checkpoint["state_dicts"]["q_network"])
    final = scored(q_network.eval(), args, device)
    evaluation = {"checkpoint": args.eval_checkpoint, "final": {k: float(v) for k, v in final.items()}}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps(metrics["final"]))
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
