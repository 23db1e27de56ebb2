"""UCB over a grid of contracts for the repeated hidden-action contract (E8 of the reference suite).

Hidden-action contract: Wu et al., "Contractual Reinforcement Learning: Pulling Arms with Invisible Hands"
(arXiv 2407.01458), horizon 1; the learning test of the project's reference notes (grid step <= 0.01, regret
against the optimal contract's 0.45). A principal learning a contract on ``contract_envs/contract_bandit-v1``
with a hidden-action instance.

The principal sees only the outcome, never the agent's action. It restricts itself to contracts that pay
``x`` on the outcome it values most (success in E8) and runs UCB over the grid ``x in {0, step, ..., x_max}``
on its realised utility ``theta_o + noise - x 1{o = best}``, index ``mean + ucb_scale sqrt(2 log T / n)``.
The agent is the reference best responder (ties to the principal's preferred action, E8's convention, so the
optimal contract 0.5 is on the grid). A uniformly random grid contract is the comparison baseline.

All seeds run at once as one batched environment (env ``b`` seeded ``seed + b``). Scoring against the exact
optimal contract of ``solve_contract_bandit`` (``metrics.json`` ``final``, prefixed by the algorithm): principal
regret ``sum_t (V* - E[u | x_t])`` (exact expected utility of the offered contract), the mean expected utility
over the run and over its last 10% as fractions of ``V*``, welfare regret, and the contract error
``|x_t - x*|``. ``history``: cumulative means over seeds every ``T/100`` rounds (``step`` = round).

Fastest meaningful command (about 5 s; UCB ends on the optimal contract 0.5 in almost every seed)::

    PYTHONPATH=. python baselines/contract_grid_ucb.py --horizon 3000 --num-seeds 20 --grid-step 0.05
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

ALGORITHMS = ("grid_ucb", "random_contract")


@dataclass
class Args:
    exp_name: str = os.path.basename(__file__)[: -len(".py")]
    """the name of this experiment"""
    seed: int = 1
    """seed of the experiment (env b of the batch is seeded seed + b)"""
    torch_deterministic: bool = True
    """if toggled, `torch.backends.cudnn.deterministic=True`"""
    cuda: bool = False
    """unused (tabular learner); kept for the CleanRL interface"""
    track: bool = False
    """if toggled, this experiment will be tracked with Weights and Biases"""
    wandb_project_name: str = "contract-envs"
    """the wandb's project name"""
    wandb_entity: str | None = None
    """the entity (team) of wandb's project"""
    save_model: bool = False
    """whether to save the learned contract values to `{runs_dir}/{run_name}/model.pt` and evaluate them"""
    runs_dir: str = "runs"
    """folder of the run folders `{algorithm}__{env_name}__{seed}__{unix_time}` (TensorBoard, metrics.json, model.pt)"""
    eval_checkpoint: str | None = None
    """evaluate this `model.pt` only (its args replace the command line's, except evaluation options given
    explicitly: `--eval-rounds`, `--runs-dir`) and write the evaluation to a new run folder"""

    # Algorithm specific arguments
    env_id: str = "contract_envs/contract_bandit-v1"
    """the id of the environment"""
    instance: str = "e8"
    """bandit instance preset (hidden-action: the principal pays on outcomes)"""
    horizon: int = 20_000
    """the horizon T (rounds)"""
    num_seeds: int = 30
    """independent runs, played in parallel as one batch"""
    grid_step: float = 0.01
    """spacing of the contract grid"""
    grid_max: float = 1.0
    """largest payment on the grid"""
    ucb_scale: float = 0.5
    """scale of the UCB bonus (0.5 bounds the std of a reward in [0, 1])"""
    eval_rounds: int = 1000
    """rounds of the greedy evaluation of the saved model"""


def contract_values(inst, grid: np.ndarray, paid_outcome: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact expected principal utility and welfare of every grid contract (for the regret only)."""
    contracts = np.zeros((len(grid), inst.n_outcomes))
    contracts[:, paid_outcome] = grid
    action = inst.best_response(contracts)
    probs = inst.outcome_probs[action]  # [G, O]
    principal = (probs * (inst.principal_values - contracts)).sum(1)
    welfare = probs @ inst.principal_values + inst.agent_values[action]
    return principal, welfare


def run(args: Args, writer: SummaryWriter | None = None) -> tuple[dict, list, dict, dict]:
    """Play both algorithms for ``horizon`` rounds: ``(final, history, per-round curves, UCB's tables)``."""
    inst = bandit_instance(args.instance)
    sol = solve_contract_bandit(inst)
    paid_outcome = int(np.argmax(inst.principal_values))
    grid = np.round(np.arange(0.0, args.grid_max + args.grid_step / 2, args.grid_step), 12)
    value, welfare = contract_values(inst, grid, paid_outcome)
    x_star = float(sol.contract[paid_outcome])
    b, horizon, g = args.num_seeds, args.horizon, len(grid)
    envs = {
        a: contract_envs.vector.make(
            args.env_id,
            num_envs=b,
            seed=args.seed,
            instance=args.instance,
            horizon=None,
            payment_cap=max(2.0, args.grid_max),
        )
        for a in ALGORITHMS
    }
    rng = np.random.default_rng(args.seed)
    sums = {a: np.zeros((b, g)) for a in ALGORITHMS}
    counts = {a: np.zeros((b, g)) for a in ALGORITHMS}
    keys = ("principal_regret", "welfare_regret", "contract_error")
    curves = {a: {k: np.zeros((horizon, b)) for k in keys} for a in ALGORITHMS}
    chosen = {a: np.zeros((horizon, b), dtype=np.int64) for a in ALGORITHMS}
    rows, log_t = np.arange(b), np.log(max(horizon, 2))
    start = time.time()
    for t in trange(horizon, desc="rounds", mininterval=1.0):
        for a in ALGORITHMS:
            if a == "grid_ucb":
                n = np.maximum(counts[a], 1)
                index = np.where(counts[a] > 0, sums[a] / n + args.ucb_scale * np.sqrt(2 * log_t / n), np.inf)
                arm = np.argmax(index, axis=1)
            else:
                arm = rng.integers(0, g, b)
            offer = np.zeros((b, 1, inst.n_outcomes))
            offer[:, 0, paid_outcome] = grid[arm]
            env = envs[a]
            env.step({"principal_0": offer})
            _, rewards, *_ = env.step({"agent_0": env.game.best_response(env.offers)})
            np.add.at(sums[a], (rows, arm), rewards["principal_0"])
            np.add.at(counts[a], (rows, arm), 1.0)
            c = curves[a]
            c["principal_regret"][t] = sol.principal_value - value[arm]
            c["welfare_regret"][t] = sol.welfare - welfare[arm]
            c["contract_error"][t] = np.abs(grid[arm] - x_star)
            chosen[a][t] = arm
        if writer is not None and (t + 1) % max(1, horizon // 100) == 0:
            for a in ALGORITHMS:
                regret = curves[a]["principal_regret"][: t + 1].sum(0).mean()
                writer.add_scalar(f"{a}/cumulative_principal_regret", regret, t + 1)
    wall = time.time() - start
    tail = max(1, horizon // 10)
    v_star = sol.principal_value
    final: dict[str, float] = {
        "grid_step": args.grid_step,
        "optimal_contract": x_star,
        "optimal_value": v_star,
        "train_seconds": wall,
        "rounds_per_s": horizon * b * len(ALGORITHMS) / wall,
    }
    for a in ALGORITHMS:
        cum = {k: np.cumsum(curves[a][k], 0) for k in keys}
        last_pick = np.array([np.bincount(chosen[a][-tail:, i], minlength=g).argmax() for i in range(b)])
        for k in keys:
            final[f"{a}_cumulative_{k}"] = float(cum[k][-1].mean())
            final[f"{a}_cumulative_{k}_stderr"] = float(cum[k][-1].std() / np.sqrt(b))
        final[f"{a}_regret_ratio_T_over_half_T"] = float(
            cum["principal_regret"][-1].mean() / max(cum["principal_regret"][horizon // 2 - 1].mean(), 1e-12)
        )
        final[f"{a}_final_contract_mean"] = float(grid[last_pick].mean())
        final[f"{a}_fraction_final_contract_optimal"] = float(
            np.mean(np.abs(grid[last_pick] - x_star) < args.grid_step / 2)
        )
        final[f"{a}_value_fraction_of_optimum"] = float(1.0 - cum["principal_regret"][-1].mean() / (horizon * v_star))
        last = v_star - curves[a]["principal_regret"][-tail:].mean()
        final[f"{a}_mean_expected_utility_last_10pct"] = float(last)
        final[f"{a}_final_value_fraction_of_optimum"] = float(last / v_star)
        print(
            f"{a:>15}: principal regret R(T) = {final[f'{a}_cumulative_principal_regret']:.1f} +- "
            f"{final[f'{a}_cumulative_principal_regret_stderr']:.1f}, R(T)/R(T/2) = "
            f"{final[f'{a}_regret_ratio_T_over_half_T']:.2f}, value {100 * final[f'{a}_value_fraction_of_optimum']:.2f}"
            f"% of V*, final contract {final[f'{a}_final_contract_mean']:.3f} (optimal in "
            f"{100 * final[f'{a}_fraction_final_contract_optimal']:.0f}% of seeds)"
        )
    every = max(1, horizon // 100)
    cum_mean = {a: {k: np.cumsum(curves[a][k], 0).mean(1) for k in keys} for a in ALGORITHMS}
    history = [
        {"step": t + 1, **{f"{a}_cumulative_{k}": float(cum_mean[a][k][t]) for a in ALGORITHMS for k in keys}}
        for t in range(every - 1, horizon, every)
    ]
    return final, history, curves, {"grid": grid, "sums": sums["grid_ucb"], "counts": counts["grid_ucb"]}


def plot(curves: dict, path: str, title: str) -> None:
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    panels = [
        ("principal_regret", "cumulative principal regret"),
        ("welfare_regret", "cumulative welfare regret"),
        ("contract_error", "cumulative contract error |x_t - x*|"),
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


def evaluate(args: Args, model: dict) -> dict[str, float]:
    """Play the greedy contract of the learned grid means for ``eval_rounds`` fresh rounds: mean principal utility
    per round and its fraction of the exact optimum."""
    grid, sums, counts = (np.asarray(model[k]) for k in ("grid", "sums", "counts"))
    best = np.argmax(np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf), axis=1)
    inst = bandit_instance(args.instance)
    env = contract_envs.vector.make(
        args.env_id,
        num_envs=len(best),
        seed=args.seed + 10_000,
        instance=args.instance,
        horizon=None,
        payment_cap=max(2.0, args.grid_max),
    )
    offer = np.zeros((len(best), 1, inst.n_outcomes))
    offer[:, 0, int(np.argmax(inst.principal_values))] = grid[best]
    total = np.zeros(len(best))
    for _ in range(args.eval_rounds):
        env.step({"principal_0": offer})
        _, rewards, *_ = env.step({"agent_0": env.game.best_response(env.offers)})
        total += rewards["principal_0"]
    value = float(total.mean() / args.eval_rounds)
    v_star = solve_contract_bandit(inst).principal_value
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
        "env_kwargs": {"instance": args.instance, "horizon": None, "payment_cap": max(2.0, args.grid_max)},
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
    final = evaluate(args, saved["state_dicts"]["grid_ucb"])
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
    final, history, curves, model = run(args, writer)
    title = f"{args.instance}: T = {args.horizon}, grid step {args.grid_step}, {args.num_seeds} seeds"
    plot(curves, os.path.join(run_dir, "regret.png"), title)
    if args.save_model:
        model_path = os.path.join(run_dir, "model.pt")
        torch.save({"args": asdict(args), "state_dicts": {"grid_ucb": model}}, model_path)
        print(f"model saved to {model_path}")
        final.update(evaluate(args, torch.load(model_path, weights_only=False)["state_dicts"]["grid_ucb"]))
        writer.add_scalar("eval/mean_principal_utility", final["eval_mean_principal_utility"], 0)
        print(
            f"eval: greedy grid contract earns {final['eval_mean_principal_utility']:.3f} per round "
            f"(optimum {final['optimal_value']})"
        )
    metrics = write_metrics(run_dir, args, final, history, time.time() - start, None)
    print(f"metrics written to {os.path.join(run_dir, 'metrics.json')}")
    writer.close()
    return metrics


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
