"""Exact Coin Game optimum of every two-agent preset, its solve time, and the welfare upper bounds.

Run: ``PYTHONPATH=. python benchmarks/coin_game_optimum.py`` (``--episodes`` simulated episodes of the
optimal policy per preset, ``--repeats`` solves per preset, best time reported). Prints markdown tables:

1. per preset: states per round, W* (exact DP) and its solve time, the DP's greedy policy simulated in
   the environment itself (batched API, state decoded from agent_0's observation; mean +- standard
   error), the spawn-distance upper bound, the principal's exact optimum against SelfishCoinAgent
   agents (welfare_weight 10, payment_cap 10; and with no budget, i.e. the selfish agents' own play)
   and the bound ``10 W*`` for any agents;
2. the upper bound for 2 to 5 agents (``n_agents`` override of each preset), its method (exact maximum over
   placements, or the union bound on balls where there are more than 300,000 placements) and its time.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

import contract_envs.vector
from contract_envs.games.coin_game import coin_game_rules
from contract_envs.solvers import (
    coin_game_state_from_observation,
    coin_game_welfare_upper_bound,
    solve_coin_game_principal,
    solve_coin_game_welfare,
)
from contract_envs.solvers.coin_game import DEFAULT_MAX_CONFIGURATIONS

PRESETS = ("parl", "parl_3x3", "rllib", "lola", "jaxmarl")


def best_of(fn, repeats: int):
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return result, best


def simulate(preset: str, solution, episodes: int, seed: int) -> tuple[float, float]:
    """Mean and standard error of the welfare of the DP's greedy policy played in the environment."""
    envs = contract_envs.vector.make("contract_envs/coin_game-v1", episodes, seed=seed, preset=preset, principal=False)
    obs, _ = envs.reset(seed=seed)
    welfare = np.zeros(episodes)
    for t in range(solution.rules.horizon):
        agents, coins, colours = coin_game_state_from_observation(solution.rules, obs["agent_0"])
        act = solution.actions(t, agents, coins, colours[:, 0])
        obs, rewards, *_ = envs.step({a: act[:, i] for i, a in enumerate(envs.agents)})
        welfare += sum(rewards[a] for a in envs.agents)
    return float(welfare.mean()), float(welfare.std(ddof=1) / np.sqrt(episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--episodes", type=int, default=4096)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numpy {np.__version__}; "
        f"times: best of {args.repeats} (wall clock)\n"
    )
    print(
        "| preset | grid, rounds | states per round | W* (exact) | solve time | DP policy in env | "
        "upper bound (balls) | principal vs selfish agents (time) | selfish agents, no contracts | 10 W* |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for preset in PRESETS:
        rules = coin_game_rules(preset)
        solution, seconds = best_of(lambda r=rules: solve_coin_game_welfare(r), args.repeats)
        mean, se = simulate(preset, solution, args.episodes, args.seed)
        bound = coin_game_welfare_upper_bound(rules, method="configurations")
        balls = coin_game_welfare_upper_bound(rules, method="balls")
        principal, p_seconds = best_of(lambda r=rules: solve_coin_game_principal(r, store_values=False), args.repeats)
        selfish = solve_coin_game_principal(rules, payment_cap=0.0, store_values=False).value
        principal_bound = solution.principal_upper_bound(10.0)
        print(
            f"| `{preset}` | {rules.grid_size}x{rules.grid_size}, {rules.horizon} | {solution.n_states:,} | "
            f"{solution.value:.4f} | {seconds:.3f} s | {mean:.3f} +- {se:.3f} | {bound:.4f} ({balls:.4f}) | "
            f"{principal.value:.3f} ({p_seconds:.3f} s) | {round(selfish, 3) + 0.0:.3f} | {principal_bound:.3f} |"
        )
    print("\n| preset | n_agents = 2 | n_agents = 3 | n_agents = 4 | n_agents = 5 |")
    print("|---|---|---|---|---|")
    for preset in PRESETS:
        cells = []
        for n in (2, 3, 4, 5):
            rules = coin_game_rules(preset, n_agents=n)
            bound, seconds = best_of(lambda r=rules: coin_game_welfare_upper_bound(r), args.repeats)
            method = "placements" if (rules.grid_size**2) ** (n - 1) <= DEFAULT_MAX_CONFIGURATIONS else "balls"
            cells.append(f"{bound:.4f} ({method}, {seconds:.3f} s)")
        print(f"| `{preset}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
