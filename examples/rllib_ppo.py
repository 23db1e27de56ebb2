"""Train the principal and the agents of a contract game with RLlib PPO (one policy per role).

Locally (a Ray instance is started for the run):

    python examples/rllib_ppo.py --env-id contract_envs/coin_game-v1 --iterations 50

On a Ray cluster: start the head (``ray start --head --port=6379``) and workers
(``ray start --address=<head-ip>:6379``), then point the script at it; the same config scales with
``--num-env-runners`` (sampling actors) and ``--num-learners``:

    python examples/rllib_ppo.py --address <head-ip>:6379 --num-env-runners 16 --iterations 500

Needs the ``rllib`` extra: ``pip install "contract-envs[rllib]"``.
"""

from __future__ import annotations

import argparse
import json
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="contract_envs/coin_game-v1", help="a registered id")
    parser.add_argument("--address", default=None, help="Ray cluster address (host:port, or 'auto'); default: local")
    parser.add_argument("--iterations", type=int, default=10, help="training iterations")
    parser.add_argument("--num-env-runners", type=int, default=0, help="sampling actors (0: sample in the driver)")
    parser.add_argument("--num-learners", type=int, default=0, help="learner actors (0: learn in the driver)")
    parser.add_argument("--batch-size", type=int, default=2000, help="env steps per training iteration")
    parser.add_argument("--minibatch-size", type=int, default=250, help="SGD minibatch size")
    parser.add_argument("--num-epochs", type=int, default=5, help="SGD epochs per iteration")
    parser.add_argument("--lr", type=float, default=3e-4, help="learning rate")
    parser.add_argument("--observations", default="flat", choices=["flat", "image"], help="observation layout")
    parser.add_argument("--seed", type=int, default=0, help="seed of RLlib and the environments")
    parser.add_argument(
        "--env-kwargs", default="{}", help='game arguments as JSON, e.g. \'{"horizon": 20, "grid_size": 3}\''
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> list[dict]:
    args = parse_args(argv)
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig

    from contract_envs.integrations import rllib

    ray.init(address=args.address, include_dashboard=False, ignore_reinit_error=True)
    env_config = {"observations": args.observations, **json.loads(args.env_kwargs)}
    config = (
        rllib.configure(PPOConfig(), args.env_id, **env_config)
        .env_runners(num_env_runners=args.num_env_runners)
        .learners(num_learners=args.num_learners)
        .training(
            train_batch_size_per_learner=args.batch_size,
            minibatch_size=args.minibatch_size,
            num_epochs=args.num_epochs,
            lr=args.lr,
        )
        .debugging(seed=args.seed)
    )
    algo = config.build_algo()
    history = []
    start = time.time()
    for iteration in range(1, args.iterations + 1):
        result = algo.train()
        runners = result["env_runners"]
        returns = {p: float(v) for p, v in runners.get("agent_episode_returns_mean", {}).items()}
        row = {"iteration": iteration, "seconds": round(time.time() - start, 1), "returns": returns}
        history.append(row)
        print(json.dumps(row))
    algo.stop()
    return history


if __name__ == "__main__":
    main()
