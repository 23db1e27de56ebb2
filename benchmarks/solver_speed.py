"""Speed of the exact SPE solvers and of the PettingZoo adapters of principal_agent_mdp-v1.

Run: ``python benchmarks/solver_speed.py`` (add ``--repeats 5`` for steadier figures). Prints:
exact SPE of random binary trees of depth 10, 12, 14 (backward induction, vectorised per level),
of random discounted MDPs with 100 and 1,000 states (meta-algorithm), and the Parallel / AEC
adapters' rounds per second with random contracts and actions. Best of ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import contract_envs
from contract_envs.games.principal_agent_mdp import random_binary_tree, random_mdp
from contract_envs.solvers import solve_spe


def best_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


ENV_ID = "contract_envs/principal_agent_mdp-v1"


def parallel_rounds_per_second(rounds: int) -> float:
    env = contract_envs.make("parallel", ENV_ID, depth=10)
    rng = np.random.default_rng(0)
    offers = rng.uniform(0, 2, (rounds, 1, 2)).astype(np.float32)
    acts = rng.integers(0, 2, rounds)
    env.reset(seed=0)
    start = time.perf_counter()
    for t in range(rounds):
        if not env.agents:
            env.reset()
        env.step({"principal_0": offers[t]})
        env.step({"agent_0": int(acts[t])})
    return rounds / (time.perf_counter() - start)


def aec_rounds_per_second(rounds: int) -> float:
    env = contract_envs.make("aec", ENV_ID, depth=10)
    rng = np.random.default_rng(0)
    offers = rng.uniform(0, 2, (rounds, 1, 2)).astype(np.float32)
    acts = rng.integers(0, 2, rounds)
    env.reset(seed=0)
    done_rounds = 0
    start = time.perf_counter()
    while done_rounds < rounds:
        for player in env.agent_iter():
            _, _, term, trunc, info = env.last()
            if term or trunc:
                action = None
            elif player == "principal_0":
                action = offers[done_rounds]
            else:  # native AEC: the agent's turn ends the round
                action = int(acts[done_rounds])
                done_rounds += 1
            env.step(action)
            if done_rounds >= rounds:
                break
        env.reset()
    return rounds / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=20000, help="rounds timed for each adapter")
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, "
        f"numpy {np.__version__}"
    )
    print("\nExact SPE, random binary trees (backward induction):")
    print("depth  decision states  build spec (s)  solve (s)")
    for depth in (10, 12, 14):
        build = best_time(lambda d=depth: random_binary_tree(d, seed=0), args.repeats)
        spec = random_binary_tree(depth, seed=0)
        solve = best_time(lambda s=spec: solve_spe(s), args.repeats)
        print(f"{depth:>5}  {2**depth - 1:>15}  {build:>14.4f}  {solve:>9.4f}")
    print("\nExact SPE, random discounted MDPs (meta-algorithm, gamma 0.9, 2 actions):")
    print("states  outcomes  solve (s)  outer iterations")
    for n_states, n_outcomes in ((100, 2), (1000, 2), (100, 3), (1000, 3)):
        spec = random_mdp(n_states, 2, n_outcomes, gamma=0.9, seed=0)
        solve = best_time(lambda s=spec: solve_spe(s), args.repeats)
        print(f"{n_states:>6}  {n_outcomes:>8}  {solve:>9.4f}  {solve_spe(spec).iterations:>16}")
    print("\nPettingZoo adapters (depth-10 tree, random contracts and actions; a round = offer + act):")
    par = max(parallel_rounds_per_second(args.rounds) for _ in range(args.repeats))
    aec = max(aec_rounds_per_second(args.rounds) for _ in range(args.repeats))
    print(f"Parallel: {par:,.0f} rounds/s ({2 * par:,.0f} steps/s)")
    print(f"AEC:      {aec:,.0f} rounds/s")


if __name__ == "__main__":
    main()
