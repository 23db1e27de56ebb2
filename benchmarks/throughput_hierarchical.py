"""Batched throughput of the hierarchical environments: rounds/s at B = 1, 64, 1024.

Each configuration steps ``contract_envs.vector.make(env_id, B)`` (auto-reset on) with random valid
actions for every player (drawn beforehand, so only the environment is timed). A round takes
``stages_per_round`` steps (tree: one offer stage per depth with inner nodes, then the act stage;
bandit: offer, act); the table prints env-rounds per second (B x rounds / wall time), best of
``--repeats`` runs.

    PYTHONPATH=. python benchmarks/throughput_hierarchical.py [--seconds 0.5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
from gymnasium import spaces

import contract_envs.vector

CONFIGS = [
    ("tree_contracts T1 (chain, 3 nodes)", "contract_envs/tree_contracts-v0", {"instance": "T1"}),
    ("tree_contracts T2 (star, 3 nodes)", "contract_envs/tree_contracts-v0", {"instance": "T2"}),
    ("tree_contracts random seed 0 (15 nodes)", "contract_envs/tree_contracts-v0", {"instance": 0}),
    ("contract_bandit ipa_k5", "contract_envs/contract_bandit-v0", {}),
    ("contract_bandit e8 (hidden action)", "contract_envs/contract_bandit-v0", {"instance": "e8"}),
]
BATCHES = (1, 64, 1024)


def random_batched_action(space: spaces.Space, batch: int, rng: np.random.Generator) -> Any:
    if isinstance(space, spaces.Dict):
        return {k: random_batched_action(sub, batch, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.n, size=batch)
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(space.nvec, size=(batch, *space.shape))
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
        best = max(best, batch * steps / env.stages_per_round / elapsed)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=0.5, help="timed seconds per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs per configuration (best is kept)")
    args = parser.parse_args()
    header = f"{'environment':42s}" + "".join(f"{f'B={b}':>14s}" for b in BATCHES)
    print(header)
    print("-" * len(header))
    for label, env_id, kwargs in CONFIGS:
        rates = [measure(env_id, kwargs, b, args.seconds, args.repeats) for b in BATCHES]
        print(f"{label:42s}" + "".join(f"{r:14,.0f}" for r in rates), flush=True)
    print("(env-rounds/s: B environments playing one full round = B env-rounds; every player acts each step)")


if __name__ == "__main__":
    main()
