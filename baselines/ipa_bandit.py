"""IPA (Incentivized Principal-Agent) learner for the repeated principal-agent bandit, with baselines.

Scheid et al., "Incentivized Learning in Principal-Agent Bandit Games", ICML 2024 (arXiv 2403.03811); algorithm
as in the authors' rebuttal notebook (see docs/results/hierarchical.md and the env docs). Principal learners on
``contract_envs/contract_bandit-v1`` against the best-responding agent:

* **IPA**: phase 1 (``K * ceil(log2 T)`` rounds) binary-searches each arm's minimal incentive (offer the
  midpoint of ``[low_k, high_k]`` on arm ``k = t mod K``; taken -> ``high_k = mid``, else ``low_k = mid``);
  phase 2 runs UCB on incentive-shifted rewards ``X - tau`` with index ``mean + sqrt(ucb_coef log T / n)``,
  offering ``high_k + 1/T^2`` on the chosen arm only.
* **epsilon-greedy principal** (after Dogan et al.): with probability ``min(1, m / t)`` explore a uniform arm,
  offering the midpoint of its incentive interval (the search advances only on exploration rounds),
  otherwise exploit the best empirical shifted mean with ``high_k + 1/T^2``.
* **UCB oracle**: UCB on the true shifted means, i.e. it knows every ``tau*_k`` (an upper reference).

All three run ``num_seeds`` independent seeds at once as one batched environment (env ``b`` is seeded
``seed + b``). Scoring against the exact optimum ``V*`` of ``solve_contract_bandit`` (``metrics.json`` ``final``,
prefixed by the algorithm): principal regret ``sum_t [V* - (theta_{A_t} - tau*_{A_t})]`` (the reference's), the
mean principal value over the run and over its last 10% as fractions of ``V*`` (utility actually received:
``theta_{A_t} - paid_t``, so overpayment counts), utility regret, social-welfare regret and transfer error
``|paid_t - tau*_{A_t}|``. ``history``: cumulative means over seeds every ``T/100`` rounds (``step`` = round).

Fastest meaningful command (about 5 s; IPA ends on the optimal arm with regret close to the oracle's)::

    PYTHONPATH=. python baselines/ipa_bandit.py --horizon 2000 --num-seeds 20
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
from contract_envs.games.contract_bandit import bandit_instance  # noqa: E402
from contract_envs.solvers import solve_contract_bandit  # noqa: E402

ALGORITHMS = ("ipa", "epsilon_greedy", "ucb_oracle")


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
    """whether to save IPA's learned incentives and means to `{runs_dir}/{run_name}/model.pt` and evaluate them"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--eval-rounds`, `--runs-dir`) and write the evaluation to a new run folder"""

    # Algorithm specific arguments
    env_id: str = "contract_envs/contract_bandit-v1"
    """the id of the environment"""
    instance: str = "ipa_k5"
    """bandit instance preset (observed-action instances only)"""
    horizon: int = 10_000
    """the horizon T (rounds)"""
    num_seeds: int = 30
    """independent runs, played in parallel as one batch"""
    noise_std: float | None = None
    """std of the principal's Gaussian reward noise (default: the preset's, 1.0)"""
    ucb_coef: float = 4.0
    """UCB bonus sqrt(ucb_coef * log T / n) (the reference's 4)"""
    incentive_upper: float = 1.0
    """initial upper end of every incentive search (rewards in [0, 1] => incentives <= 1)"""
    epsilon_m: float = 100.0
    """epsilon-greedy exploration parameter m: epsilon_t = min(1, m / t)"""
    eval_rounds: int = 1000
    """rounds of the greedy evaluation of the saved model"""


class Learner:
    """Batched principal learner over ``B`` runs: ``offer(t)`` -> incentives ``[B, K]``; ``update(...)``."""

    def __init__(self, kind: str, n_arms: int, batch: int, args: Args, tau_star: np.ndarray, rng) -> None:
        self.kind, self.k, self.b, self.args, self.rng = kind, n_arms, batch, args, rng
        self.t_horizon = args.horizon
        self.eps = 1.0 / args.horizon**2
        self.low = np.zeros((batch, n_arms))
        self.high = np.full((batch, n_arms), args.incentive_upper)
        if kind == "ucb_oracle":
            self.high[:] = tau_star
        self.search_rounds = n_arms * int(np.ceil(np.log2(args.horizon))) if kind == "ipa" else 0
        self.sums = np.zeros((batch, n_arms))
        self.counts = np.zeros((batch, n_arms))
        self.rows = np.arange(batch)

    def shifted_means(self) -> np.ndarray:
        return np.where(self.counts > 0, self.sums / np.maximum(self.counts, 1), -np.inf)

    def offer(self, t: int) -> np.ndarray:
        incentives = np.zeros((self.b, self.k))
        self.probing = np.zeros(self.b, dtype=bool)
        if self.kind == "ipa" and t < self.search_rounds:
            self.target = np.full(self.b, t % self.k)
            self.probing[:] = True
        elif self.kind == "epsilon_greedy":
            explore = self.rng.random(self.b) < min(1.0, self.args.epsilon_m / (t + 1))
            greedy = np.argmax(np.where(self.counts > 0, self.shifted_means(), np.inf), axis=1)
            self.target = np.where(explore, self.rng.integers(0, self.k, self.b), greedy)
            self.probing = explore
        else:
            bonus = np.sqrt(self.args.ucb_coef * np.log(self.t_horizon) / np.maximum(self.counts, 1))
            index = np.where(self.counts > 0, self.shifted_means() + bonus, np.inf)
            self.target = np.argmax(index, axis=1)
        mid = 0.5 * (self.low + self.high)[self.rows, self.target]
        committed = self.high[self.rows, self.target] + self.eps
        incentives[self.rows, self.target] = np.where(self.probing, mid, committed)
        return incentives

    def update(self, incentives: np.ndarray, arm: np.ndarray, utility: np.ndarray) -> None:
        took = arm == self.target
        probe = self.probing
        mid = incentives[self.rows, self.target]
        self.high[self.rows[probe & took], self.target[probe & took]] = mid[probe & took]
        self.low[self.rows[probe & ~took], self.target[probe & ~took]] = mid[probe & ~took]
        learn = ~probe if self.kind == "ipa" else np.ones(self.b, dtype=bool)
        np.add.at(self.sums, (self.rows[learn], arm[learn]), utility[learn])
        np.add.at(self.counts, (self.rows[learn], arm[learn]), 1.0)

    def greedy_incentives(self) -> np.ndarray:
        best = np.argmax(self.shifted_means(), axis=1)
        out = np.zeros((self.b, self.k))
        out[self.rows, best] = self.high[self.rows, best] + self.eps
        return out


def run(args: Args, writer: SummaryWriter | None = None) -> tuple[dict, list, dict, dict]:
    """Play every algorithm for ``horizon`` rounds: ``(final, history, per-round curves, learners)``."""
    inst = bandit_instance(args.instance)
    if not inst.observed_action:
        raise ValueError(f"ipa_bandit needs an observed-action instance (outcome = arm); {args.instance!r} is not")
    sol = solve_contract_bandit(inst)
    tau_star, theta, s = sol.incentives, inst.principal_values, inst.agent_values
    v_star, w_star = sol.principal_value, sol.welfare
    k, b, horizon = inst.n_actions, args.num_seeds, args.horizon
    kw = dict(instance=args.instance, horizon=horizon, noise_std=args.noise_std)
    envs = {a: contract_envs.vector.make(args.env_id, num_envs=b, seed=args.seed, **kw) for a in ALGORITHMS}
    rng = np.random.default_rng(args.seed)
    learners = {a: Learner(a, k, b, args, tau_star, rng) for a in ALGORITHMS}
    keys = ("principal_regret", "utility_regret", "welfare_regret", "transfer_error")
    curves = {a: {m: np.zeros((horizon, b)) for m in keys} for a in ALGORITHMS}
    last_arms = {a: np.zeros((horizon, b), dtype=np.int64) for a in ALGORITHMS}
    start = time.time()
    for t in trange(horizon, desc="rounds", mininterval=1.0):
        for a in ALGORITHMS:
            env, learner = envs[a], learners[a]
            incentives = learner.offer(t)
            obs, *_ = env.step({"principal_0": incentives[:, None, :]})
            arm = env.game.best_response(obs["agent_0"])  # the reference agent: argmax(s + tau)
            obs, rewards, _, _, infos = env.step({"agent_0": arm})
            paid = infos["principal_0"]["payment"]
            learner.update(incentives, arm, rewards["principal_0"])
            c = curves[a]
            c["principal_regret"][t] = v_star - (theta[arm] - tau_star[arm])
            c["utility_regret"][t] = v_star - (theta[arm] - paid)
            c["welfare_regret"][t] = w_star - (theta[arm] + s[arm])
            c["transfer_error"][t] = np.abs(paid - tau_star[arm])
            last_arms[a][t] = arm
        if writer is not None and (t + 1) % max(1, horizon // 100) == 0:
            for a in ALGORITHMS:
                for m in keys:
                    writer.add_scalar(f"{a}/cumulative_{m}", curves[a][m][: t + 1].sum(0).mean(), t + 1)
            writer.add_scalar("charts/SPS", int((t + 1) * b * len(ALGORITHMS) / (time.time() - start)), t + 1)
    wall = time.time() - start

    final: dict[str, float] = {
        "optimal_arm": float(sol.action),
        "optimal_incentive": float(sol.incentive),
        "optimal_value": float(v_star),
        "train_seconds": wall,
        "rounds_per_s": horizon * b * len(ALGORITHMS) / wall,
    }
    tail = max(1, horizon // 10)
    half = horizon // 2
    for a in ALGORITHMS:
        cum = {m: np.cumsum(curves[a][m], axis=0) for m in keys}
        final_arm = np.array([np.bincount(last_arms[a][-tail:, i], minlength=k).argmax() for i in range(b)])
        for m in keys:
            final[f"{a}_cumulative_{m}"] = float(cum[m][-1].mean())
            final[f"{a}_cumulative_{m}_stderr"] = float(cum[m][-1].std() / np.sqrt(b))
        r_half, r_full = cum["principal_regret"][half - 1].mean(), cum["principal_regret"][-1].mean()
        final[f"{a}_regret_ratio_T_over_half_T"] = float(r_full / max(r_half, 1e-12))
        final[f"{a}_fraction_final_optimal_arm"] = float(np.mean(final_arm == sol.action))
        # utility actually received (overpayment counts) as a fraction of the exact optimum V*
        final[f"{a}_value_fraction_of_optimum"] = float(1.0 - cum["utility_regret"][-1].mean() / (horizon * v_star))
        last = v_star - curves[a]["utility_regret"][-tail:].mean()
        final[f"{a}_mean_utility_last_10pct"] = float(last)
        final[f"{a}_final_value_fraction_of_optimum"] = float(last / v_star)
        if a != "ucb_oracle":
            found = learners[a].high
            final.update({f"{a}_incentive_estimate_arm_{j}": float(x) for j, x in enumerate(found.mean(0))})
            final[f"{a}_incentive_max_abs_error"] = float(np.abs(found - tau_star).max())
        value, value_last = (100 * final[f"{a}_{k}value_fraction_of_optimum"] for k in ("", "final_"))
        print(
            f"{a:>15}: principal regret R(T) = {final[f'{a}_cumulative_principal_regret']:.1f} "
            f"+- {final[f'{a}_cumulative_principal_regret_stderr']:.1f}, R(T)/R(T/2) = "
            f"{final[f'{a}_regret_ratio_T_over_half_T']:.2f}, value {value:.2f}% of V* ({value_last:.2f}% over the "
            f"last 10%), final arm optimal in {100 * final[f'{a}_fraction_final_optimal_arm']:.0f}% of seeds"
        )
    every = max(1, horizon // 100)
    cum_mean = {a: {m: np.cumsum(curves[a][m], 0).mean(1) for m in keys} for a in ALGORITHMS}
    history = [
        {"step": t + 1, **{f"{a}_cumulative_{m}": float(cum_mean[a][m][t]) for a in ALGORITHMS for m in keys}}
        for t in range(every - 1, horizon, every)
    ]
    return final, history, curves, learners


def plot(curves: dict, path: str, title: str) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = [
        ("principal_regret", "cumulative principal regret"),
        ("welfare_regret", "cumulative welfare regret"),
        ("transfer_error", "cumulative transfer error |paid - tau*|"),
    ]
    for ax, (key, label) in zip(axes, panels, strict=True):
        for a, c in curves.items():
            cum = np.cumsum(c[key], axis=0)
            mean, se = cum.mean(1), cum.std(1) / np.sqrt(cum.shape[1])
            x = np.arange(1, len(mean) + 1)
            ax.plot(x, mean, label=a)
            ax.fill_between(x, mean - se, mean + se, alpha=0.25)
        ax.set_xlabel("round t")
        ax.set_title(label)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def evaluate(args: Args, greedy_incentives: np.ndarray) -> dict[str, float]:
    """Play the greedy IPA contracts ``[B, K]`` for ``eval_rounds`` fresh rounds: mean principal utility per round
    and its fraction of the exact optimum."""
    env = contract_envs.vector.make(
        args.env_id,
        num_envs=greedy_incentives.shape[0],
        seed=args.seed + 10_000,
        instance=args.instance,
        horizon=args.eval_rounds,
        noise_std=args.noise_std,
    )
    total = np.zeros(greedy_incentives.shape[0])
    for _ in range(args.eval_rounds):
        obs, *_ = env.step({"principal_0": greedy_incentives[:, None, :]})
        _, rewards, *_ = env.step({"agent_0": env.game.best_response(obs["agent_0"])})
        total += rewards["principal_0"]
    value = float(total.mean() / args.eval_rounds)
    v_star = solve_contract_bandit(bandit_instance(args.instance)).principal_value
    return {"eval_mean_principal_utility": value, "eval_value_fraction_of_optimum": value / v_star}


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

    metrics = {
        "schema": "contract-envs/metrics/v1",
        "algorithm": ALGORITHM,
        "env_id": args.env_id,
        "env_kwargs": {"instance": args.instance, "horizon": args.horizon, "noise_std": args.noise_std},
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
    final = evaluate(args, np.asarray(saved["state_dicts"]["ipa"]["greedy_incentives"]))
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
    plot(curves, os.path.join(run_dir, "regret.png"), f"{args.instance}: T = {args.horizon}, {args.num_seeds} seeds")
    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        ipa = learners["ipa"]
        state = {"high": ipa.high, "shifted_means": ipa.shifted_means(), "greedy_incentives": ipa.greedy_incentives()}
        torch.save({"args": asdict(args), "state_dicts": {"ipa": state}}, model_path)
        print(f"model saved to {model_path}")
        saved = torch.load(model_path, weights_only=False)
        final.update(evaluate(args, np.asarray(saved["state_dicts"]["ipa"]["greedy_incentives"])))
        writer.add_scalar("eval/mean_principal_utility", final["eval_mean_principal_utility"], 0)
        print(
            f"eval: greedy IPA contract earns {final['eval_mean_principal_utility']:.3f} per round "
            f"(optimum {final['optimal_value']})"
        )
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    print(f"metrics written to {os.path.join(run_dir, 'metrics.json')}")
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
