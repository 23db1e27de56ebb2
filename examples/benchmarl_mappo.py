"""Train a contract game with BenchMARL's MAPPO (or IPPO): the principal and the agents, one group each.

    python examples/benchmarl_mappo.py --task COIN_GAME --iterations 20
    python examples/benchmarl_mappo.py --task PRISONERS_DILEMMA_AGENTS_ONLY --algorithm ippo

Tasks: ``contract_envs.integrations.benchmarl.ContractEnvsTask`` (``<NAME>`` = full game,
``<NAME>_AGENTS_ONLY``); defaults from the package's yaml. Needs the ``benchmarl`` extra (see
docs/ecosystem.md for an install that keeps the CPU torch).
"""

from __future__ import annotations

import argparse
import json
import tempfile


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="COIN_GAME", help="a ContractEnvsTask member")
    parser.add_argument("--algorithm", default="mappo", choices=["mappo", "ippo"], help="BenchMARL algorithm")
    parser.add_argument("--iterations", type=int, default=10, help="training iterations")
    parser.add_argument("--frames-per-batch", type=int, default=2000, help="Parallel steps collected per iteration")
    parser.add_argument("--n-envs", type=int, default=4, help="environment copies per collector")
    parser.add_argument("--seed", type=int, default=0, help="seed")
    parser.add_argument("--env-kwargs", default="{}", help="game arguments as JSON, e.g. '{\"horizon\": 20}'")
    parser.add_argument("--max-steps", type=int, default=None, help="Parallel steps per episode (if horizon changes)")
    parser.add_argument("--save-folder", default=None, help="BenchMARL's output folder (default: a temporary one)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None):
    args = parse_args(argv)
    from contract_envs.integrations.benchmarl import ContractEnvsTask  # before BenchMARL (see its docstring)

    # isort: split
    from benchmarl.algorithms import IppoConfig, MappoConfig
    from benchmarl.experiment import Experiment, ExperimentConfig
    from benchmarl.models import MlpConfig

    task = getattr(ContractEnvsTask, args.task).get_from_yaml()
    task.config["kwargs"] = json.loads(args.env_kwargs)
    if args.max_steps is not None:
        task.config["max_steps"] = args.max_steps
    config = ExperimentConfig.get_from_yaml()
    config.sampling_device = config.train_device = config.buffer_device = "cpu"
    config.max_n_iters = args.iterations
    config.on_policy_collected_frames_per_batch = args.frames_per_batch
    config.on_policy_n_envs_per_worker = args.n_envs
    config.on_policy_minibatch_size = min(400, args.frames_per_batch)
    config.evaluation = False
    config.loggers = ["csv"]
    config.save_folder = args.save_folder or tempfile.mkdtemp(prefix="benchmarl_")
    algorithm = {"mappo": MappoConfig, "ippo": IppoConfig}[args.algorithm].get_from_yaml()
    mlp = MlpConfig.get_from_yaml()
    experiment = Experiment(
        task=task, algorithm_config=algorithm, model_config=mlp, critic_model_config=mlp, seed=args.seed, config=config
    )
    experiment.run()
    print(json.dumps({"task": args.task, "iterations": experiment.n_iters_performed, "folder": config.save_folder}))
    return experiment


if __name__ == "__main__":
    main()
