"""Decentralised no-regret learners for the tree contract game (MAIL-style) on ``contract_envs/tree_contracts-v1``.

Scheid et al., "Learning Contracts in Hierarchical Multi-Agent Systems" / "Online Decision-Making in Tree-Like
Multi-Agent Games with Transfers" (arXiv 2501.19388). The paper's pseudo-code is not public: this is the
structure described in its abstract and summaries (first learn the transfers, then a shifted bandit over own
action and recommendations; depth-dependent exploration), see docs/results/hierarchical.md. Every node uses only
its own bandit feedback.

Each node knows the tree's shape, the common clock and the horizon ``T``, and sees only its contract, its own
reward and its children's actions. Learning proceeds bottom-up in blocks, one per height ``L`` (leaves: 0), so
that descendants have settled before an ancestor learns against them; the total exploration therefore grows
with the tree's depth:

1. **Transfer search** (inner nodes of height ``L``): for every child ``w`` (all children in parallel) and
   every action ``b`` of ``w``, probe transfer 0, then binary-search ``[0, size(w) + 1]`` for
   ``ceil(log2 T) + ceil(log2(size + 1))`` rounds (precision ``<= 1/T``); the estimate ``tau_w(b)`` is the
   smallest accepted probe. A settled child answers deterministically, so one probe per step suffices.
2. **Shifted bandit** over ``(own action a, recommended children's actions b)``: non-root nodes explore
   every pair ``n = ceil(explore_coef * T^explore_exponent)`` times (recommending ``b`` with transfers
   ``tau(b)``) and then commit: ``m(a) = max_b [mean X(a, b) - sum_w tau_w(b_w)]``. Leaves estimate their
   ``K`` means the same way. The root runs UCB on its realised shifted utility ``X - transfers paid``.
3. **Settled play** (non-root): given the parent's offer ``p`` (a payment per own action), play
   ``argmax_a m(a) + p(a)`` (ties to the paid action) and recommend ``b*(a)`` with transfers ``tau(b*(a))``.

A **no-contracts** baseline runs a UCB learner per node on its own reward with no transfers (it converges to
the selfish outcome, so its welfare regret is linear: the price of no contracts).

Scoring against the exact equilibrium of ``solve_tree_contracts`` (``metrics.json`` ``final``, prefixed by the
algorithm; mean over ``num_seeds`` runs, played in parallel as one batched env): the mean welfare over the run and
over its last 10% as fractions of the optimum ``W*``, social-welfare regret ``sum_t (W* - W_t)`` (mean welfare of
the played profile), per-node regret ``sum_t (U*_v - u_v,t)`` against the equilibrium utility (mean reward +
actual transfers), transfer error ``sum_t sum_w |tau_t(w) - tau*_w|`` over edges (offered transfer vs
equilibrium transfer). ``history``: cumulative welfare regret every ``T/100`` rounds (``step`` = round).

Fastest meaningful command (about 10 s; every seed settles on the welfare-optimal profile with the equilibrium
transfers)::

    PYTHONPATH=. python baselines/tree_contracts_learning.py --instance T2 --horizon 2000 --num-seeds 10
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import tyro  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402
from tqdm import trange  # noqa: E402

import contract_envs  # noqa: E402
import contract_envs.vector  # noqa: E402
from contract_envs.games.tree_contracts import TreeInstance, tree_instance  # noqa: E402
from contract_envs.solvers import solve_tree_contracts  # noqa: E402

ALGORITHMS = ("mail", "no_contracts")
_TIE = 1e-12


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (env b of the batch is seeded seed + b)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """unused (tabular learners); kept for the CleanRL interface"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the settled estimates to `{runs_dir}/{run_name}/model.pt` and evaluate them after reloading"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--eval-rounds`, `--runs-dir`) and write the evaluation to a new run folder"""

    # Algorithm specific arguments
    env_id: str = "contract_envs/tree_contracts-v1"
    """the id of the environment"""
    instance: str = "T1"
    """tree instance: T1, T2 or an int seed of the random generator"""
    noise: str = "gaussian"
    """reward noise: gaussian or bernoulli"""
    noise_std: float = 0.1
    """std of the Gaussian reward noise"""
    horizon: int = 10_000
    """the horizon T (rounds)"""
    num_seeds: int = 30
    """independent runs, played in parallel as one batch"""
    explore_coef: float = 1.0
    """pulls per (own action, children profile) during exploration: ceil(coef * T^exponent)"""
    explore_exponent: float = 0.5
    """exponent of the horizon in the exploration length"""
    ucb_scale: float | None = None
    """scale of the UCB bonus scale * sqrt(2 log T / n) (default: noise_std, or 0.5 for Bernoulli)"""
    eval_rounds: int = 500
    """rounds of the evaluation of the saved, settled learners"""


def resolve_instance(name: str) -> TreeInstance:
    return tree_instance(int(name) if name.lstrip("-").isdigit() else name)


class Schedule:
    """Common-knowledge phase boundaries per node, derived from the tree shape and the horizon."""

    def __init__(self, inst: TreeInstance, horizon: int, pulls: int) -> None:
        self.pulls = pulls
        size_bits = int(np.ceil(np.log2(max(inst.subtree_size) + 1)))
        self.bits = int(np.ceil(np.log2(max(horizon, 2)))) + size_bits
        self.search_start, self.search_end = {}, {}
        self.explore_start, self.explore_end = {}, {}
        t = 0
        for level in range(max(inst.height) + 1):
            nodes = [v for v in range(inst.n_nodes) if inst.height[v] == level]
            inner = [v for v in nodes if inst.children[v]]
            search_len = max([inst.n_actions[w] * (1 + self.bits) for v in inner for w in inst.children[v]], default=0)
            for v in nodes:
                self.search_start[v], self.search_end[v] = t, t + (search_len if inst.children[v] else 0)
            t += search_len
            explore_len = 0
            for v in nodes:
                n_profiles = inst.n_actions[v] * int(np.prod([inst.n_actions[w] for w in inst.children[v]]))
                length = 0 if v == 0 else n_profiles * pulls
                self.explore_start[v], self.explore_end[v] = t, t + length
                explore_len = max(explore_len, length)
            t += explore_len
        self.learning_rounds = t


class NodeLearner:
    """One node's learner, vectorised over the ``B`` independent runs."""

    def __init__(self, v: int, inst: TreeInstance, schedule: Schedule, args: Args, batch: int, kind: str) -> None:
        self.v, self.kind, self.sched, self.b = v, kind, schedule, batch
        self.k = inst.n_actions[v]
        self.kids = list(inst.children[v])
        self.kid_k = [inst.n_actions[w] for w in self.kids]
        self.n_prof = int(np.prod(self.kid_k)) if self.kids else 1
        self.upper = [inst.subtree_size[w] + 1.0 for w in self.kids]
        self.log_t = np.log(max(args.horizon, 2))
        self.ucb_scale = (
            args.ucb_scale if args.ucb_scale is not None else (0.5 if args.noise == "bernoulli" else args.noise_std)
        )
        self.rows = np.arange(batch)
        self.sums = np.zeros((batch, self.k, self.n_prof))
        self.counts = np.zeros((batch, self.k, self.n_prof))
        self.low = [np.zeros((batch, k)) for k in self.kid_k]
        self.high = [np.full((batch, k), u) for k, u in zip(self.kid_k, self.upper, strict=True)]
        self.m = np.zeros((batch, self.k))
        self.best_prof = np.zeros((batch, self.k), dtype=np.int64)
        self.settled = False
        self.action = np.zeros(batch, dtype=np.int64)
        self.rec = np.zeros((batch, len(self.kids)), dtype=np.int64)
        self.transfers = np.zeros((batch, len(self.kids)))

    # ----------------------------------------------------------------- helpers
    def tau_hat(self, rec: np.ndarray) -> np.ndarray:
        """Learned transfers ``[B, n_kids]`` for recommended children's actions ``rec``."""
        return (
            np.stack([self.high[j][self.rows, rec[:, j]] for j in range(len(self.kids))], axis=1)
            if self.kids
            else np.zeros((self.b, 0))
        )

    def unravel(self, prof: np.ndarray) -> np.ndarray:
        if not self.kids:
            return np.zeros((self.b, 0), dtype=np.int64)
        return np.stack(np.unravel_index(prof, self.kid_k), axis=1).astype(np.int64)

    def ravel(self, kid_actions: np.ndarray) -> np.ndarray:
        if not self.kids:
            return np.zeros(self.b, dtype=np.int64)
        return np.ravel_multi_index(tuple(kid_actions.T), self.kid_k)

    def shifted_means(self) -> np.ndarray:
        """``mean X(a, b) - sum_w tau_w(b_w)`` over ``[B, K, P]`` (``-inf`` where never observed)."""
        mean = np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), -np.inf)
        if not self.kids:
            return mean
        profiles = np.stack(np.unravel_index(np.arange(self.n_prof), self.kid_k), axis=1)  # [P, n_kids]
        cost = sum(self.high[j][:, profiles[:, j]] for j in range(len(self.kids)))  # [B, P]
        return mean - cost[:, None, :]

    def settle(self) -> None:
        shifted = self.shifted_means()
        self.best_prof = np.argmax(shifted, axis=2)
        self.m = np.take_along_axis(shifted, self.best_prof[..., None], axis=2)[..., 0]
        self.settled = True

    # ----------------------------------------------------------------- decisions
    def decide(self, t: int, contract: np.ndarray | None) -> None:
        """Choose own action, recommendations and transfers for round ``t`` (``contract [B, K]``: the offer seen)."""
        s, v = self.sched, self.v
        self.phase = "idle"
        self.rec[:] = 0
        self.transfers[:] = 0.0
        if self.kind == "no_contracts":
            bonus = self.ucb_scale * np.sqrt(2 * self.log_t / np.maximum(self.counts.sum(2), 1))
            index = np.where(
                self.counts.sum(2) > 0, self.sums.sum(2) / np.maximum(self.counts.sum(2), 1) + bonus, np.inf
            )
            self.action = np.argmax(index, axis=1)
            return
        if s.search_start[v] <= t < s.search_end[v]:
            self.phase = "search"
            i = t - s.search_start[v]
            b, j = divmod(i, 1 + s.bits)
            self.action[:] = 0
            for c, k in enumerate(self.kid_k):
                if b >= k:
                    continue
                if j == 0:
                    self.low[c][:, b], self.high[c][:, b] = 0.0, self.upper[c]
                    probe = np.zeros(self.b)
                else:
                    probe = 0.5 * (self.low[c][:, b] + self.high[c][:, b])
                self.rec[:, c], self.transfers[:, c] = b, probe
            self.probe = (b, j)
            return
        if s.explore_start[v] <= t < s.explore_end[v]:
            self.phase = "explore"
            a, prof = divmod((t - s.explore_start[v]) % (self.k * self.n_prof), self.n_prof)
            self.action[:] = a
            self.rec = self.unravel(np.full(self.b, prof))
            self.transfers = self.tau_hat(self.rec)
            return
        if v == 0 and t >= s.search_end[v]:
            self.phase = "ucb"
            n = self.counts.reshape(self.b, -1)
            mean = self.sums.reshape(self.b, -1) / np.maximum(n, 1)
            index = np.where(n > 0, mean + self.ucb_scale * np.sqrt(2 * self.log_t / np.maximum(n, 1)), np.inf)
            a, prof = np.divmod(np.argmax(index, axis=1), self.n_prof)
            self.action = a
            self.rec = self.unravel(prof)
            self.transfers = self.tau_hat(self.rec)
            return
        if t >= s.explore_end[v] and v != 0:
            if not self.settled:
                self.settle()
            self.phase = "settled"
            pay = np.zeros((self.b, self.k)) if contract is None else contract.astype(np.float64)
            value = self.m + pay
            best = value >= value.max(axis=1, keepdims=True) - _TIE
            self.action = np.argmax(np.where(best, pay, -np.inf), axis=1)  # ties: the paid action
            self.rec = self.unravel(self.best_prof[self.rows, self.action])
            self.transfers = self.tau_hat(self.rec)
            return
        self.action[:] = 0  # idle: descendants are still learning

    def update(self, own_reward: np.ndarray, utility: np.ndarray, kid_actions: np.ndarray) -> None:
        """Learn from this round's bandit feedback: own reward, own utility, children's actions."""
        if self.kind == "no_contracts":
            np.add.at(self.sums, (self.rows, self.action, 0), own_reward)
            np.add.at(self.counts, (self.rows, self.action, 0), 1.0)
            return
        if self.phase == "search":
            b, j = self.probe
            for c, k in enumerate(self.kid_k):
                if b >= k:
                    continue
                took = kid_actions[:, c] == b
                if j == 0:
                    self.high[c][took, b] = 0.0
                else:
                    mid = self.transfers[:, c]
                    self.high[c][took, b] = mid[took]
                    self.low[c][~took, b] = mid[~took]
        elif self.phase in ("explore", "ucb"):
            prof = self.ravel(kid_actions)
            # explore: raw reward (shifted later by the learned transfers); ucb: realised shifted utility
            value = own_reward if self.phase == "explore" else utility
            np.add.at(self.sums, (self.rows, self.action, prof), value)
            np.add.at(self.counts, (self.rows, self.action, prof), 1.0)


def play_round(env, learners: list[NodeLearner], inst: TreeInstance, t: int):
    """One round on the batched env (the generic stage machine): offer stages top-down, then the act stage;
    returns the act step's outputs. An inner node's move in its offer stage is its whole move (own action and
    offer; only the offer counts there); in the act stage every node gives its bare action."""
    obs = env.observe()
    act_stage = len(env.stage_names) - 1
    while True:
        stage = env.stage
        actions = {}
        for p in env.stage_movers[stage]:
            node = learners[int(p.rsplit("_", 1)[1])]
            if stage < act_stage or not node.kids:
                node.decide(t, obs[p].get("contract"))
            if stage < act_stage:
                actions[p] = {"action": node.action, "recommendations": node.rec, "transfers": node.transfers}
            else:
                actions[p] = node.action
        out = env.step(actions)
        obs = out[0]
        if stage == act_stage:
            return out


def run(args: Args, writer: SummaryWriter | None = None) -> tuple[dict, list, dict, dict]:
    """Play both algorithms for ``horizon`` rounds: ``(final, history, per-round curves, learners)``."""
    inst = resolve_instance(args.instance)
    sol = solve_tree_contracts(inst)
    n, b, horizon = inst.n_nodes, args.num_seeds, args.horizon
    pulls = int(np.ceil(args.explore_coef * horizon**args.explore_exponent))
    schedule = Schedule(inst, horizon, pulls)
    u_star = np.array([sol.utilities[v] for v in range(n)])
    tau_star = np.array([0.0] + [sol.transfers[v] for v in range(1, n)])
    optimal = sol.action_profile()
    kw = dict(instance=inst, noise=args.noise, noise_std=args.noise_std, horizon=None)  # one long repeated game
    envs = {a: contract_envs.vector.make(args.env_id, num_envs=b, seed=args.seed, **kw) for a in ALGORITHMS}
    learners = {a: [NodeLearner(v, inst, schedule, args, b, a) for v in range(n)] for a in ALGORITHMS}
    curves = {
        a: {
            "welfare_regret": np.zeros((horizon, b)),
            "node_regret": np.zeros((horizon, b, n)),
            "transfer_error": np.zeros((horizon, b)),
            "optimal_profile": np.zeros((horizon, b), dtype=bool),
        }
        for a in ALGORITHMS
    }
    offered = {a: np.zeros((b, n)) for a in ALGORITHMS}
    start = time.time()
    for t in trange(horizon, desc="rounds", mininterval=1.0):
        for a in ALGORITHMS:
            env, nodes = envs[a], learners[a]
            offers = np.zeros((b, n))  # transfer offered to each node this round (root: none)
            obs, rewards, _, _, infos = play_round(env, nodes, inst, t)
            joint = env.state.last_actions
            for v in range(n):
                node = nodes[v]
                for j, w in enumerate(node.kids):
                    offers[:, w] = node.transfers[:, j]
                kid_actions = obs[f"node_{v}"]["children_actions"] if node.kids else None
                node.update(infos[f"node_{v}"]["own_reward"], rewards[f"node_{v}"], kid_actions)
            mean = inst.rewards(joint)
            received = np.stack([infos[f"node_{v}"]["payment_received"] for v in range(n)], axis=1)
            paid = np.stack([infos[f"node_{v}"]["payment_paid"] for v in range(n)], axis=1)
            c = curves[a]
            c["welfare_regret"][t] = sol.welfare - mean.sum(1)
            c["node_regret"][t] = u_star - (mean + received - paid)
            c["transfer_error"][t] = np.abs(offers[:, 1:] - tau_star[1:]).sum(1)
            c["optimal_profile"][t] = (joint == optimal).all(1)
            offered[a] = offers
        if writer is not None and (t + 1) % max(1, horizon // 100) == 0:
            for a in ALGORITHMS:
                writer.add_scalar(
                    f"{a}/cumulative_welfare_regret", curves[a]["welfare_regret"][: t + 1].sum(0).mean(), t + 1
                )
            writer.add_scalar("charts/SPS", int((t + 1) * b * len(ALGORITHMS) / (time.time() - start)), t + 1)
    wall = time.time() - start
    tail = max(1, horizon // 10)
    final: dict[str, float] = {
        "n_nodes": float(n),
        "depth": float(max(inst.depth)),
        "pulls_per_profile": float(pulls),
        "learning_rounds": float(schedule.learning_rounds),
        "optimal_welfare": sol.welfare,
        "no_transfer_welfare": sol.no_transfer_welfare,
        "train_seconds": wall,
        "rounds_per_s": horizon * b * len(ALGORITHMS) / wall,
    }
    final.update({f"optimal_action_node_{v}": float(x) for v, x in enumerate(optimal)})
    final.update({f"equilibrium_transfer_node_{v}": float(tau_star[v]) for v in range(1, n)})
    final.update({f"equilibrium_utility_node_{v}": float(u_star[v]) for v in range(n)})
    half = horizon // 2
    for a in ALGORITHMS:
        c = curves[a]
        cum_w = np.cumsum(c["welfare_regret"], 0)
        cum_node = np.cumsum(c["node_regret"], 0)
        cum_tr = np.cumsum(c["transfer_error"], 0)
        last = sol.welfare - c["welfare_regret"][-tail:].mean()
        entry = {
            "welfare_fraction_of_optimum": 1.0 - cum_w[-1].mean() / (horizon * sol.welfare),
            "final_welfare_fraction_of_optimum": last / sol.welfare,
            "mean_welfare_last_10pct": last,
            "cumulative_welfare_regret": cum_w[-1].mean(),
            "cumulative_welfare_regret_stderr": cum_w[-1].std() / np.sqrt(b),
            "welfare_regret_ratio_T_over_half_T": cum_w[-1].mean() / max(cum_w[half - 1].mean(), 1e-12),
            "cumulative_transfer_error": cum_tr[-1].mean(),
            "cumulative_transfer_error_stderr": cum_tr[-1].std() / np.sqrt(b),
            "fraction_optimal_profile_last_10pct": c["optimal_profile"][-tail:].mean(),
            "fraction_seeds_final_profile_optimal": np.mean(c["optimal_profile"][-tail:].mean(0) > 0.5),
            "final_transfer_max_abs_error": np.abs(offered[a][:, 1:] - tau_star[1:]).max(),
        }
        for v in range(n):
            entry[f"cumulative_regret_node_{v}"] = cum_node[-1, :, v].mean()
            entry[f"regret_ratio_T_over_half_T_node_{v}"] = cum_node[-1, :, v].mean() / max(
                abs(cum_node[half - 1, :, v].mean()), 1e-12
            )
        entry.update({f"final_transfer_node_{v}": offered[a][:, v].mean() for v in range(1, n)})
        final.update({f"{a}_{k}": float(x) for k, x in entry.items()})
        print(
            f"{a:>13}: welfare {100 * entry['welfare_fraction_of_optimum']:.2f}% of W* "
            f"({100 * entry['final_welfare_fraction_of_optimum']:.2f}% over the last 10%), welfare regret R(T) = "
            f"{entry['cumulative_welfare_regret']:.1f} +- {entry['cumulative_welfare_regret_stderr']:.1f}, "
            f"R(T)/R(T/2) = {entry['welfare_regret_ratio_T_over_half_T']:.2f}, transfer error "
            f"{entry['cumulative_transfer_error']:.1f}, optimal profile in "
            f"{100 * entry['fraction_optimal_profile_last_10pct']:.0f}% of the last 10% rounds"
        )
    every = max(1, horizon // 100)
    cum_mean = {a: np.cumsum(curves[a]["welfare_regret"], 0).mean(1) for a in ALGORITHMS}
    history = [
        {"step": t + 1, **{f"{a}_cumulative_welfare_regret": float(cum_mean[a][t]) for a in ALGORITHMS}}
        for t in range(every - 1, horizon, every)
    ]
    return final, history, curves, learners


def plot(curves: dict, path: str, title: str, n_nodes: int) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    x = np.arange(1, next(iter(curves.values()))["welfare_regret"].shape[0] + 1)
    for a, c in curves.items():
        cum = np.cumsum(c["welfare_regret"], 0)
        mean, se = cum.mean(1), cum.std(1) / np.sqrt(cum.shape[1])
        axes[0].plot(x, mean, label=a)
        axes[0].fill_between(x, mean - se, mean + se, alpha=0.25)
        cum_tr = np.cumsum(c["transfer_error"], 0).mean(1)
        axes[2].plot(x, cum_tr, label=a)
    cum_node = np.cumsum(curves["mail"]["node_regret"], 0).mean(1)
    for v in range(n_nodes):
        axes[1].plot(x, cum_node[:, v], label=f"node_{v}")
    for ax, label in zip(
        axes,
        [
            "cumulative social-welfare regret",
            "MAIL: cumulative per-node regret",
            "cumulative transfer error sum_w |tau_t - tau*|",
        ],
        strict=True,
    ):
        ax.set_xlabel("round t")
        ax.set_title(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def learner_state(node: NodeLearner) -> dict[str, np.ndarray]:
    """What a settled node needs to play: its means, counts, committed values and learned transfers."""
    state = {k: np.asarray(getattr(node, k)) for k in ("sums", "counts", "m", "best_prof")}
    state.update({f"high_{j}": h for j, h in enumerate(node.high)})
    return state


def evaluate(args: Args, state_dicts: dict) -> dict[str, float]:
    """Reload the settled learners' estimates and play greedily (root: best shifted mean) for ``eval_rounds``
    fresh rounds: mean welfare per round and its fraction of the exact optimum."""
    inst = resolve_instance(args.instance)
    b = args.num_seeds
    env = contract_envs.vector.make(
        args.env_id,
        num_envs=b,
        seed=args.seed + 10_000,
        instance=inst,
        noise=args.noise,
        noise_std=args.noise_std,
        horizon=None,
    )
    schedule = Schedule(inst, args.horizon, 1)
    eval_args = Args(**{**vars(args), "ucb_scale": 0.0})  # greedy root: no exploration bonus
    nodes = [NodeLearner(v, inst, schedule, eval_args, b, "mail") for v in range(inst.n_nodes)]
    for v, node in enumerate(nodes):
        state = state_dicts[f"node_{v}"]
        for key in ("sums", "counts", "m", "best_prof"):
            setattr(node, key, np.asarray(state[key]))
        node.high = [np.asarray(state[f"high_{j}"]) for j in range(len(node.kids))]
        node.settled = True
    welfare = np.zeros(b)
    for t in range(args.eval_rounds):
        _, _, _, _, infos = play_round(env, nodes, inst, t + args.horizon)
        welfare += infos["node_0"]["welfare"]
    value = float(welfare.mean() / args.eval_rounds)
    return {"eval_mean_welfare": value, "eval_welfare_fraction_of_optimum": value / solve_tree_contracts(inst).welfare}


# --------------------------------------------------------------------------------------------------- run folder
ALGORITHM = os.path.basename(__file__)[: -len(".py")]
EVAL_OPTIONS = ("eval_rounds", "runs_dir")  # options a checkpoint's args do not override


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

    env_kwargs = {"instance": args.instance, "noise": args.noise, "noise_std": args.noise_std, "horizon": None}
    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": args.env_id,
        "env_kwargs": env_kwargs,
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
        json.dump(metrics, f, indent=2)
    return metrics


def evaluate_checkpoint(cli: Args) -> dict:
    """``--eval-checkpoint``: evaluate a saved model and write ``metrics.json`` with ``eval`` in a new run folder."""
    saved = torch.load(cli.eval_checkpoint, weights_only=False)
    defaults = Args()
    given = {k: getattr(cli, k) for k in EVAL_OPTIONS if getattr(cli, k) != getattr(defaults, k)}
    args = Args(**{**saved["args"], **given, "eval_checkpoint": cli.eval_checkpoint, "save_model": False})
    start = time.time()
    final = evaluate(args, saved["state_dicts"])
    run_dir = make_run_dir(args)
    evaluation = {"checkpoint": cli.eval_checkpoint, "final": final}
    metrics = write_metrics(run_dir, args, final, [], time.time() - start, evaluation)
    print(json.dumps({"run_dir": run_dir, "eval": evaluation}))
    return metrics


def main(args: Args) -> dict:
    if args.eval_checkpoint is not None:
        return evaluate_checkpoint(args)
    run_dir = make_run_dir(args)
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
    table = "\n".join(f"|{key}|{value}|" for key, value in vars(args).items())
    writer.add_text("hyperparameters", f"|param|value|\n|-|-|\n{table}")

    # TRY NOT TO MODIFY: seeding
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.backends.cudnn.deterministic = args.torch_deterministic

    start = time.time()
    final, history, curves, learners = run(args, writer)
    title = f"tree {resolve_instance(args.instance).name}: T = {args.horizon}, {args.num_seeds} seeds"
    plot(curves, os.path.join(run_dir, "regret.png"), title, int(final["n_nodes"]))
    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        state = {f"node_{v}": learner_state(node) for v, node in enumerate(learners["mail"])}
        torch.save({"args": asdict(args), "state_dicts": state}, model_path)
        print(f"model saved to {model_path}")
        final.update(evaluate(args, torch.load(model_path, weights_only=False)["state_dicts"]))
        writer.add_scalar("eval/mean_welfare", final["eval_mean_welfare"], 0)
        print(
            f"eval: settled learners reach welfare {final['eval_mean_welfare']:.3f} per round "
            f"(optimum {final['optimal_welfare']})"
        )
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    print(f"metrics written to {os.path.join(run_dir, 'metrics.json')}")
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
