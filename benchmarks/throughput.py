"""Throughput of the suite's environments: batched core, PettingZoo Parallel and AEC adapters.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/throughput.py                      # every entry, every mode
    PYTHONPATH=. python benchmarks/throughput.py --envs coin_game/jaxmarl --modes batched --batch-sizes 1024
    PYTHONPATH=. python benchmarks/throughput.py --profile batched --envs coin_game/jaxmarl --batch-sizes 1024

Figures (best of ``--repeats`` timed runs of about ``--seconds`` each, random actions and random
contracts generated before timing):

* ``batched``: env-steps/s of ``contract_envs.vector.make(env_id, B)`` = rounds/s x B; with a
  principal, one round is the offer stage plus the act stage, with a fresh random contract per
  agent (uniform payments in ``[0, payment_cap)``) validated and settled every round.
* ``parallel``: PettingZoo Parallel ``step`` calls/s at B = 1 (with a principal, two steps make
  one round; rounds/s are printed too).
* ``aec``: AEC ``step`` calls/s (one player move each) and cycles/s through ``agent_iter``.

Add an environment by appending a row to ``ENTRIES``: ``(label, env id, kwargs)``.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import contract_envs
import contract_envs.vector

# (label, registered env id, constructor kwargs); labels are what --envs selects.
ENTRIES: list[tuple[str, str, dict[str, Any]]] = [
    ("coin_game/jaxmarl", "contract_envs/coin_game-v0", {"preset": "jaxmarl"}),
    ("coin_game/parl", "contract_envs/coin_game-v0", {"preset": "parl"}),
    ("coin_game/jaxmarl-no-principal", "contract_envs/coin_game-v0", {"preset": "jaxmarl", "principal": False}),
]
DEFAULT_BATCH_SIZES = (1, 64, 1024, 16384)
PREGENERATED = 64  # distinct pre-generated action sets, cycled through while timing


def _timed(run: Callable[[int], int], seconds: float, repeats: int) -> float:
    """Best rate (units/s) of ``run(n) -> units`` over ``repeats`` runs sized to last ~``seconds``."""
    n = 1
    while True:  # calibrate
        start = time.perf_counter()
        run(n)
        elapsed = time.perf_counter() - start
        if elapsed > 0.05 * seconds or n >= 1 << 24:
            break
        n *= 4
    n = max(1, int(n * seconds / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(repeats):
        start = time.perf_counter()
        units = run(n)
        best = max(best, units / (time.perf_counter() - start))
    return best


def batched_runner(env_id: str, kwargs: dict, num_envs: int, seed: int = 0) -> Callable[[int], int]:
    env = contract_envs.vector.make(env_id, num_envs, seed=seed, **kwargs)
    game, rng = env.game, np.random.default_rng(seed)
    agent_sets = [
        {a: rng.integers(0, game.n_actions, num_envs) for a in env.agents} for _ in range(PREGENERATED)
    ]
    offers = None
    if env.two_stage or game.has_principal:
        cap = game.terms.payment_cap
        offers = [{"principal_0": rng.uniform(0, cap, (num_envs, *game.terms.shape))} for _ in range(PREGENERATED)]
        if not env.two_stage:  # simultaneous games take the offer with the actions
            agent_sets = [dict(a, **o) for a, o in zip(agent_sets, offers, strict=True)]
            offers = None

    def run(rounds: int) -> int:
        step = env.step
        for k in range(rounds):
            j = k % PREGENERATED
            if offers is not None:
                step(offers[j])
            step(agent_sets[j])
        return rounds * num_envs

    return run


def parallel_runner(env_id: str, kwargs: dict, seed: int = 0) -> tuple[Callable[[int], int], int]:
    env = contract_envs.make("parallel", env_id, **kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    action_sets = []
    for _ in range(PREGENERATED):
        actions = {}
        for p in env.possible_agents:
            space = env.action_space(p)
            actions[p] = int(rng.integers(space.n)) if hasattr(space, "n") else rng.uniform(
                space.low, space.high).astype(space.dtype)
        action_sets.append(actions)

    def run(steps: int) -> int:
        step, reset = env.step, env.reset
        for k in range(steps):
            step(action_sets[k % PREGENERATED])
            if not env.agents:
                reset()
        return steps

    return run, env.unwrapped.vec.stages_per_round


def aec_runner(env_id: str, kwargs: dict, seed: int = 0) -> tuple[Callable[[int], int], int]:
    env = contract_envs.make("aec", env_id, **kwargs)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    actions = {}
    for p in env.possible_agents:
        space = env.action_space(p)
        actions[p] = [int(rng.integers(space.n)) if hasattr(space, "n") else rng.uniform(
            space.low, space.high).astype(space.dtype) for _ in range(PREGENERATED)]

    def run(steps: int) -> int:
        done = 0
        while done < steps:
            for agent in env.agent_iter(steps - done):
                _, _, term, trunc, _ = env.last(observe=False)
                env.step(None if term or trunc else actions[agent][done % PREGENERATED])
                done += 1
            if done < steps:
                env.reset()
        return steps

    return run, len(env.possible_agents)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--envs", nargs="*", default=None, help=f"labels to run (default: all of {[e[0] for e in ENTRIES]})")
    parser.add_argument("--modes", nargs="*", default=["batched", "parallel", "aec"], choices=["batched", "parallel", "aec"])
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=list(DEFAULT_BATCH_SIZES))
    parser.add_argument("--seconds", type=float, default=1.0, help="target duration of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best is reported)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument("--profile", default=None, choices=["batched", "parallel", "aec"],
                        help="cProfile one mode (first selected env and batch size) and print the top functions")
    args = parser.parse_args()

    entries = [e for e in ENTRIES if args.envs is None or e[0] in args.envs]
    if not entries:
        parser.error(f"no entry matches --envs {args.envs}; known: {[e[0] for e in ENTRIES]}")

    if args.profile:
        label, env_id, kwargs = entries[0]
        if args.profile == "batched":
            run = batched_runner(env_id, kwargs, args.batch_sizes[0])
        else:
            run = (parallel_runner if args.profile == "parallel" else aec_runner)(env_id, kwargs)[0]
        run(10)
        profiler = cProfile.Profile()
        profiler.enable()
        _timed(run, args.seconds, 1)
        profiler.disable()
        print(f"profile of {args.profile} {label} (B = {args.batch_sizes[0]}):")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(18)
        return

    print(f"contract-envs {contract_envs.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
          f"{platform.machine()}; best of {args.repeats} x ~{args.seconds:g} s")
    results = []
    for label, env_id, kwargs in entries:
        if "batched" in args.modes:
            for b in args.batch_sizes:
                rate = _timed(batched_runner(env_id, kwargs, b), args.seconds, args.repeats)
                results.append({"env": label, "mode": "batched", "num_envs": b, "env_steps_per_s": rate})
                print(f"{label:32s} batched  B = {b:6d}: {rate:14,.0f} env-steps/s")
        if "parallel" in args.modes:
            run, stages = parallel_runner(env_id, kwargs)
            rate = _timed(run, args.seconds, args.repeats)
            results.append({"env": label, "mode": "parallel", "steps_per_s": rate, "rounds_per_s": rate / stages})
            print(f"{label:32s} Parallel      : {rate:14,.0f} steps/s ({rate / stages:,.0f} rounds/s)")
        if "aec" in args.modes:
            run, players = aec_runner(env_id, kwargs)
            rate = _timed(run, args.seconds, args.repeats)
            results.append({"env": label, "mode": "aec", "steps_per_s": rate, "cycles_per_s": rate / players})
            print(f"{label:32s} AEC           : {rate:14,.0f} steps/s ({rate / players:,.0f} cycles/s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
