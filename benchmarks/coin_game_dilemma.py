"""Is it a social dilemma? Welfare of scripted Coin Game policies under each tie rule.

Three scripted policies on the batched Coin Game (no principal), each agent reading only its own
channel-swapped frame: ``random`` (uniform moves), ``greedy`` (every agent walks to the coin,
whatever its colour: the selfish behaviour) and ``own_only`` (each agent walks only to coins of its
own colour, the naive cooperative convention; random moves otherwise). Prints welfare per
episode (mean +- standard error over episodes) as a markdown table.

The Coin Game is a dilemma for welfare only if ``own_only`` beats ``greedy``. With the presets'
RLlib tie rule (``tie_rule="all"``: every agent landing on the coin is credited) a shared landing
creates value (1 + 0.2 on an own-colour coin), so greedy grabbing can *raise* welfare; the PARL
reproduction's random-winner rule (``tie_rule="random"``, the ``parl`` presets' default) removes that bonus.
Every welfare is also given as a fraction of the exact optimum W* of the same rules
(``contract_envs.solvers.solve_coin_game_welfare``).

Run: ``PYTHONPATH=. python benchmarks/coin_game_dilemma.py --presets parl_3x3 parl``
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tyro

import contract_envs.vector
from contract_envs.games.coin_game import coin_game_rules
from contract_envs.solvers import solve_coin_game_welfare

MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0]])


@dataclass
class Args:
    presets: list[str] = field(default_factory=lambda: ["parl_3x3", "parl"])
    """Coin Game presets"""
    tie_rules: list[str] = field(default_factory=lambda: ["all", "random"])
    """tie rules to compare"""
    num_envs: int = 256
    """batched environments"""
    episodes_per_env: int = 4
    """episodes per environment"""
    seed: int = 0
    """environment and policy seed"""


def walk_towards(frames: np.ndarray, coin_channels: list[int], rng: np.random.Generator) -> np.ndarray:
    """Move of each env's agent (channel 0) that shortens the toroidal distance to the coin in ``coin_channels``.

    Ties between equally good moves are broken at random; with no such coin on the board, a random move.
    """
    b, _, g, _ = frames.shape
    me = frames[:, 0].reshape(b, -1).argmax(1)
    coins = frames[:, coin_channels].sum(1).reshape(b, -1)
    target = coins.argmax(1)
    best, best_distance = np.zeros(b, dtype=np.int64), np.full(b, np.inf)
    for action, (dr, dc) in enumerate(MOVES):
        row, col = (me // g + dr) % g, (me % g + dc) % g
        drow, dcol = np.abs(row - target // g), np.abs(col - target % g)
        distance = np.minimum(drow, g - drow) + np.minimum(dcol, g - dcol) + 0.1 * rng.random(b)
        better = distance < best_distance
        best[better], best_distance[better] = action, distance[better]
    return np.where(coins.max(1) > 0, best, rng.integers(0, 4, b))


def scripted_welfare(preset: str, tie_rule: str, policy: str, args: Args) -> np.ndarray:
    envs = contract_envs.vector.make(
        "contract_envs/coin_game-v1", args.num_envs, seed=args.seed, preset=preset, principal=False, tie_rule=tie_rule
    )
    rng = np.random.default_rng(args.seed)
    obs, _ = envs.reset(seed=args.seed)
    welfare: list[float] = []
    for _ in range(envs.game.rules.horizon * args.episodes_per_env):
        actions = {}
        for agent in envs.agents:
            if policy == "random":
                actions[agent] = rng.integers(0, 4, args.num_envs)
            else:
                actions[agent] = walk_towards(obs[agent], [2, 3] if policy == "greedy" else [2], rng)
        obs, _, _, truncs, infos = envs.step(actions)
        done = truncs[envs.agents[0]]
        if done.any():
            welfare += sum(infos[a]["episode_own_reward"] for a in envs.agents)[done].tolist()
    return np.asarray(welfare)


def main(args: Args) -> None:
    print("| preset | tie rule | W* (exact) | random | greedy (selfish) | own colour only | dilemma (own > greedy) |")
    print("|---|---|---|---|---|---|---|")
    for preset in args.presets:
        for tie_rule in args.tie_rules:
            w_star = solve_coin_game_welfare(coin_game_rules(preset, tie_rule=tie_rule), store_values=False).value
            cells, means = [], {}
            for policy in ("random", "greedy", "own_only"):
                w = scripted_welfare(preset, tie_rule, policy, args)
                means[policy] = w.mean()
                cells.append(f"{w.mean():.2f} ± {w.std(ddof=1) / np.sqrt(len(w)):.2f} ({w.mean() / w_star:.1%})")
            dilemma = "yes" if means["own_only"] > means["greedy"] else "no"
            print(f"| `{preset}` | `{tie_rule}` | {w_star:.3f} | {' | '.join(cells)} | {dilemma} |")


if __name__ == "__main__":
    main(tyro.cli(Args, description=__doc__))
