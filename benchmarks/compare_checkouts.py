"""Batched throughput of this tree against another checkout, timed alternately in one run.

Usage (from the repository root; ``OTHER`` is a checkout of another commit, e.g. made with
``git worktree add /tmp/prev <commit>``)::

    python benchmarks/compare_checkouts.py /tmp/prev --other-id contract_envs/coin_game-v0 --pairs 7

Each measurement is a fresh process that imports ``contract_envs`` from one tree and steps
``contract_envs.vector.make(id, B, **kwargs)`` for ``--rounds`` rounds (a fresh random contract per
agent and random actions every round, pre-generated); the two trees run in turn (A B A B ...), and
the medians and the median of the pairwise ratios are printed, so slow drifts of a shared machine
cancel. User and system CPU seconds are printed too: system time that one tree has and the other
not points at page faults (large allocations served by ``mmap``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SNIPPET = r"""
import json, os, sys, time
import numpy as np
sys.path.insert(0, sys.argv[1])
import contract_envs.vector
env_id, num_envs, rounds, kwargs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), json.loads(sys.argv[5])
env = contract_envs.vector.make(env_id, num_envs, seed=0, **kwargs)
rng = np.random.default_rng(0)
agents = [p for p in env.possible_agents if p != "principal_0"]
n_actions = env.action_space(agents[0]).n
principal = "principal_0" in env.possible_agents
shape = env.action_space("principal_0").shape if principal else None
offers = [rng.uniform(0, 1, (num_envs, *shape)).astype(np.float32) for _ in range(16)] if principal else None
moves = [{a: rng.integers(0, n_actions, num_envs) for a in agents} for _ in range(16)]

def play(k):
    if principal:
        env.step({"principal_0": offers[k % 16]})
    env.step(moves[k % 16])

for k in range(20):
    play(k)
c0, t0 = os.times(), time.perf_counter()
for k in range(rounds):
    play(k)
elapsed, c1 = time.perf_counter() - t0, os.times()
rate = rounds * num_envs / elapsed
print(json.dumps({"env_steps_per_s": rate, "user": c1.user - c0.user, "sys": c1.system - c0.system}))
"""


def measure(tree: Path, env_id: str, num_envs: int, rounds: int, kwargs: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SNIPPET, str(tree), env_id, str(num_envs), str(rounds), json.dumps(kwargs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the other checkout (its repository root)")
    parser.add_argument("--id", default="contract_envs/coin_game-v1", help="env id in this tree")
    parser.add_argument("--other-id", default=None, help="env id in the other tree (default: --id)")
    parser.add_argument("--kwargs", default='{"preset": "jaxmarl"}', help="JSON constructor arguments")
    parser.add_argument("--num-envs", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=7)
    args = parser.parse_args()
    kwargs = json.loads(args.kwargs)
    rows = []
    for _ in range(args.pairs):
        here = measure(ROOT, args.id, args.num_envs, args.rounds, kwargs)
        there = measure(args.other, args.other_id or args.id, args.num_envs, args.rounds, kwargs)
        rows.append((here, there))
    med = statistics.median
    rate_here = med(r[0]["env_steps_per_s"] for r in rows)
    rate_there = med(r[1]["env_steps_per_s"] for r in rows)
    ratios = [r[0]["env_steps_per_s"] / r[1]["env_steps_per_s"] for r in rows]
    ratio = med(ratios)
    print(
        f"{args.id} (this tree) vs {args.other_id or args.id} ({args.other}), B = {args.num_envs}, {args.pairs} pairs:"
    )
    print(f"  this tree : median {rate_here:,.0f} env-steps/s, sys {med(r[0]['sys'] for r in rows):.2f} s")
    print(f"  other tree: median {rate_there:,.0f} env-steps/s, sys {med(r[1]['sys'] for r in rows):.2f} s")
    print(f"  ratio this/other: median {ratio:.3f} (min {min(ratios):.3f})")


if __name__ == "__main__":
    main()
