"""Train the agents of a contract game with Stable-Baselines3 PPO through SuperSuit (one shared policy).

The agents-only view (no contracts, or a plugged-in principal policy) vectorised by SuperSuit, with
``VecMonitor`` and working seeds:

    python examples/sb3_supersuit_ppo.py --env-id contract_envs/coin_game-v1 --total-timesteps 50000

Needs the ``sb3`` extra: ``pip install "contract-envs[sb3]"``.
"""

from __future__ import annotations

import argparse
import json
import time


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env-id", default="contract_envs/coin_game-v1", help="a registered id")
    parser.add_argument("--num-envs", type=int, default=4, help="copies of the game (each agent is a slot)")
    parser.add_argument("--total-timesteps", type=int, default=20_000, help="agent steps to train for")
    parser.add_argument("--n-steps", type=int, default=256, help="PPO rollout length per slot")
    parser.add_argument("--batch-size", type=int, default=256, help="PPO minibatch size")
    parser.add_argument("--seed", type=int, default=0, help="seed of PPO and the games (copy i gets seed + i)")
    parser.add_argument("--env-kwargs", default="{}", help="game arguments as JSON, e.g. '{\"horizon\": 20}'")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    from stable_baselines3 import PPO

    from contract_envs.integrations.sb3 import make_vec_env

    venv = make_vec_env(args.env_id, num_envs=args.num_envs, **json.loads(args.env_kwargs))
    model = PPO("MlpPolicy", venv, n_steps=args.n_steps, batch_size=args.batch_size, seed=args.seed, device="cpu")
    start = time.time()
    model.learn(args.total_timesteps)
    episodes = list(model.ep_info_buffer)
    summary = {
        "env_id": args.env_id,
        "timesteps": model.num_timesteps,
        "seconds": round(time.time() - start, 1),
        "mean_episode_return_last_100": float(sum(e["r"] for e in episodes) / max(len(episodes), 1)),
    }
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
