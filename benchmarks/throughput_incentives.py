"""Batched throughput of the incentive-design environments: env-steps/s at B = 1, 64, 1024.

Each configuration steps ``contract_envs.vector.make(env_id, B)`` (auto-reset on) with random
valid actions for every player (drawn beforehand, so only the environment is timed) and prints
env-steps per second (B x steps / wall time), best of ``--repeats`` runs.

    PYTHONPATH=. python benchmarks/throughput_incentives.py [--seconds 0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.vector

CONFIGS = [
    ("escape_room (5,2) per_action", "contract_envs/escape_room-v0", {}),
    ("escape_room (2,1) peer", "contract_envs/escape_room-v0",
     {"n_agents": 2, "min_at_lever": 1, "incentives": "peer"}),
    ("prisoners_dilemma per_action", "contract_envs/prisoners_dilemma-v0", {}),
    ("prisoners_dilemma transfer s=0.5", "contract_envs/prisoners_dilemma-v0", {"incentives": "none",
                                                                                "keep_fraction": 0.5}),
    ("cleanup 7x7", "contract_envs/cleanup-v0", {}),
    ("cleanup 10x10", "contract_envs/cleanup-v0", {"map_name": "10x10"}),
    ("tax_economy flat (TaxLite)", "contract_envs/tax_economy-v0", {"max_cycles": 10}),
    ("tax_economy us_federal", "contract_envs/tax_economy-v0", {"tax_model": "us_federal"}),
]
BATCHES = (1, 64, 1024)


def random_batched_action(space: spaces.Space, batch: int, rng: np.random.Generator) -> Any:
    if isinstance(space, spaces.Dict):
        return {k: random_batched_action(sub, batch, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.n, size=batch)
    return rng.uniform(space.low, space.high, size=(batch, *space.shape)).astype(space.dtype)


def measure(env_id: str, kwargs: dict, batch: int, seconds: float, repeats: int) -> float:
    env = contract_envs.vector.make(env_id, batch, seed=0, **kwargs)
    rng = np.random.default_rng(0)
    pool = [{p: random_batched_action(env.action_space(p), batch, rng) for p in env.possible_agents}
            for _ in range(8)]
    for actions in pool:  # warm-up
        env.step(actions)
    best = 0.0
    for _ in range(repeats):
        steps, start = 0, time.perf_counter()
        while True:
            env.step(pool[steps % len(pool)])
            steps += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
        best = max(best, batch * steps / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="timed seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (best is kept)")
    args = parser.parse_args()
    header = f"{'environment':36s}" + "".join(f"{f'B={b}':>14s}" for b in BATCHES)
    print(header)
    print("-" * len(header))
    for label, env_id, kwargs in CONFIGS:
        rates = [measure(env_id, kwargs, b, args.seconds, args.repeats) for b in BATCHES]
        print(f"{label:36s}" + "".join(f"{r:14,.0f}" for r in rates), flush=True)
    print("(env-steps/s: B environments stepped once = B env-steps; all players act each step)")


if __name__ == "__main__":
    main()
