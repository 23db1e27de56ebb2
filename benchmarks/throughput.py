"""Throughput of the suite's environments: batched core, PettingZoo Parallel and AEC adapters.

Usage (from the repository root)::

    PYTHONPATH=. python benchmarks/throughput.py                      # every entry, every mode
    PYTHONPATH=. python benchmarks/throughput.py --envs coin_game/jaxmarl --modes batched --batch-sizes 1024
    PYTHONPATH=. python benchmarks/throughput.py --profile batched --envs coin_game/jaxmarl --batch-sizes 1024

Figures (best of ``--repeats`` timed runs of about ``--seconds`` each, random actions and random
contracts generated before timing; ``--clock cpu`` counts this thread's CPU time, steadier on a
shared machine; ``--calibrate`` also times the reference kernel of the project's performance notes
and prints load-corrected estimates):

* ``batched``: env-steps/s of ``contract_envs.vector.make(env_id, B)`` = rounds/s x B; with a
  principal, one round is the offer stage plus the act stage, with a fresh random contract per
  agent (uniform payments in ``[0, payment_cap)``) validated and settled every round.
* ``parallel``: PettingZoo Parallel ``step`` calls/s at B = 1 (with a principal, two steps make
  one round; rounds/s are printed too).
* ``aec``: AEC ``step`` calls/s (one player move each) and cycles/s through ``agent_iter``.

* ``reference``: the Parallel adapter next to a minimal pure-Python PettingZoo ParallelEnv of the
  same 3x3 Coin Game rules (``jaxmarl`` preset, with and without a contracting principal), timed
  alternately in the same run; prints both and their ratio.

Every registered id is an entry with its default arguments (``<name>``); ``EXTRA_ENTRIES`` adds
named configurations. A new game is benchmarked by registering it.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import platform
import pstats
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

import contract_envs
import contract_envs.vector
from contract_envs.registry import spec

# (label, registered env id, constructor kwargs); labels are what --envs selects. Every registered
# id is an entry with its defaults; these add configurations worth timing.
EXTRA_ENTRIES: list[tuple[str, str, dict[str, Any]]] = [
    ("coin_game/jaxmarl", "contract_envs/coin_game-v1", {"preset": "jaxmarl"}),
    ("coin_game/jaxmarl-no-principal", "contract_envs/coin_game-v1", {"preset": "jaxmarl", "principal": False}),
    ("principal_agent_mdp/tree10", "contract_envs/principal_agent_mdp-v1", {"depth": 10}),
    ("escape_room/2-1-peer", "contract_envs/escape_room-v1", {"n_agents": 2, "min_at_lever": 1, "incentives": "peer"}),
    ("prisoners_dilemma/transfer", "contract_envs/prisoners_dilemma-v1", {"incentives": "none", "keep_fraction": 0.5}),
    ("cleanup/10x10", "contract_envs/cleanup-v1", {"map_name": "10x10"}),
    ("tax_economy/us_federal", "contract_envs/tax_economy-v1", {"tax_model": "us_federal"}),
    ("tree_contracts/T2", "contract_envs/tree_contracts-v1", {"instance": "T2"}),
    ("gather_trade_build/small", "contract_envs/gather_trade_build-v0", {"preset": "small"}),
    (
        "gather_trade_build/random-skills",
        "contract_envs/gather_trade_build-v0",
        {"fixed_four_skill_and_loc": False, "skill_distribution": "pareto"},
    ),
]


def entries() -> list[tuple[str, str, dict[str, Any]]]:
    """Every registered id with its default arguments, then the extra configurations."""
    defaults = [(spec(env_id).name, env_id, {}) for env_id in contract_envs.env_ids()]
    return defaults + EXTRA_ENTRIES


DEFAULT_BATCH_SIZES = (1, 64, 1024, 16384)
PREGENERATED = 64  # distinct pre-generated action sets, cycled through while timing


CLOCKS = {"wall": time.perf_counter, "cpu": time.thread_time}
_clock = time.perf_counter


def _timed(run: Callable[[int], int], seconds: float, repeats: int) -> float:
    """Best rate (units/s) of ``run(n) -> units`` over ``repeats`` runs sized to last ~``seconds``."""
    n = 1
    while True:  # calibrate
        start = _clock()
        run(n)
        elapsed = _clock() - start
        if elapsed > 0.05 * seconds or n >= 1 << 24:
            break
        n *= 4
    n = max(1, int(n * seconds / max(elapsed, 1e-9)))
    best = 0.0
    for _ in range(repeats):
        start = _clock()
        units = run(n)
        best = max(best, units / max(_clock() - start, 1e-9))
    return best


def random_batched_action(space: spaces.Space, batch: int, rng: np.random.Generator) -> Any:
    """``batch`` valid random actions of ``space`` as arrays with a leading batch axis."""
    if isinstance(space, spaces.Dict):
        return {k: random_batched_action(sub, batch, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.Discrete):
        return space.start + rng.integers(space.n, size=batch)
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(space.nvec, size=(batch, *space.shape))
    return rng.uniform(space.low, space.high, size=(batch, *space.shape)).astype(space.dtype)


def batched_runner(env_id: str, kwargs: dict, num_envs: int, seed: int = 0) -> Callable[[int], int]:
    """Rounds of ``B`` envs; every player gets a random valid action each stage (ignored when not acting)."""
    env = contract_envs.vector.make(env_id, num_envs, seed=seed, **kwargs)
    rng = np.random.default_rng(seed)
    action_sets = [
        {p: random_batched_action(env.action_space(p), num_envs, rng) for p in env.possible_agents}
        for _ in range(PREGENERATED)
    ]
    stages = env.stages_per_round

    def run(rounds: int) -> int:
        step = env.step
        for k in range(rounds * stages):
            step(action_sets[k % PREGENERATED])
        return rounds * num_envs

    return run


def _single_action_sets(env, seed: int) -> list[dict[str, Any]]:
    sets = []
    for p in env.possible_agents:
        space = env.action_space(p)
        space.seed(seed)
        sets.append([space.sample() for _ in range(PREGENERATED)])
    return [{p: sets[i][k] for i, p in enumerate(env.possible_agents)} for k in range(PREGENERATED)]


def parallel_runner(env_id: str, kwargs: dict, seed: int = 0) -> tuple[Callable[[int], int], int]:
    env = contract_envs.make("parallel", env_id, **kwargs)
    env.reset(seed=seed)
    action_sets = _single_action_sets(env, seed)

    def run(steps: int) -> int:
        step, reset = env.step, env.reset
        for k in range(steps):
            step(action_sets[k % PREGENERATED])
            if not env.agents:
                reset()
        return steps

    return run, env.unwrapped.machine.stages_per_round


def aec_runner(env_id: str, kwargs: dict, seed: int = 0) -> tuple[Callable[[int], int], int]:
    env = contract_envs.make("aec", env_id, **kwargs)
    env.reset(seed=seed)
    sets = _single_action_sets(env, seed)
    actions = {p: [a[p] for a in sets] for p in env.possible_agents}

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


# --------------------------------------------------------------------------- pure-Python reference
# A minimal PettingZoo ParallelEnv of the jaxmarl Coin Game rules (3x3, two persistent coins, stay
# action, coins may spawn on agents, both landers credited, +1 / +1 / -2, boards redrawn every 10
# rounds, 100 rounds), written the way a small environment is usually written: Python tuples, one
# random.Random, two numpy observations per step. With ``principal=True`` it has the suite's round
# structure (an offer step, then an act step paying each agent its contract entry). It is the yard
# stick of the adapter's per-step overhead; it has no ledger, no validation and no batched core.
_REF_MOVES = ((0, 1), (0, -1), (1, 0), (-1, 0), (0, 0))


class MinimalCoinGame(ParallelEnv):
    metadata = {"name": "minimal_coin_game", "render_modes": []}

    def __init__(self, principal: bool = False, grid: int = 3, horizon: int = 100, inner: int = 10) -> None:
        self.principal, self.grid, self.horizon, self.inner = principal, grid, horizon, inner
        self.possible_agents = (["principal_0"] if principal else []) + ["agent_0", "agent_1"]
        self.render_mode = None
        board = spaces.Box(0, 1, (grid * grid * 4,), np.int8)
        contract = spaces.Box(0.0, 10.0, (5,), np.float32)
        agent_obs = spaces.Dict({"grid": board, "contract": contract}) if principal else board
        self._obs_spaces = {"principal_0": board, "agent_0": agent_obs, "agent_1": agent_obs}
        self._act_spaces = {
            "principal_0": spaces.Box(0.0, 10.0, (2, 5), np.float32),
            "agent_0": spaces.Discrete(5),
            "agent_1": spaces.Discrete(5),
        }

    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._act_spaces[agent]

    def _board(self) -> None:
        g, draw = self.grid, self.rng.randrange
        self.pos = [(draw(g), draw(g)) for _ in range(4)]  # red, blue, red coin, blue coin

    def reset(self, seed: int | None = None, options: dict | None = None):
        self.rng = random.Random(seed)
        self.t, self.stage, self.contract = 0, 0, np.zeros((2, 5), np.float32)
        self._board()
        self.agents = list(self.possible_agents)
        return self._obs(), {a: {} for a in self.agents}

    def _obs(self) -> dict:
        g = self.grid
        cells = [r * g + c for r, c in self.pos]
        red, blue = np.zeros(g * g * 4, np.int8), np.zeros(g * g * 4, np.int8)
        for channel, cell in enumerate(cells):
            red[cell * 4 + channel] = 1
            blue[cell * 4 + (channel ^ 1)] = 1
        if not self.principal:
            return {"agent_0": red, "agent_1": blue}
        return {
            "principal_0": red,
            "agent_0": {"grid": red, "contract": self.contract[0]},
            "agent_1": {"grid": blue, "contract": self.contract[1]},
        }

    def step(self, actions: dict):
        if self.principal and self.stage == 0:
            self.contract, self.stage = np.asarray(actions["principal_0"], np.float32), 1
            zero, no = dict.fromkeys(self.agents, 0.0), dict.fromkeys(self.agents, False)
            return self._obs(), zero, no, dict(no), {a: {} for a in self.agents}
        g, p = self.grid, self.pos
        a0, a1 = actions["agent_0"], actions["agent_1"]
        p[0] = ((p[0][0] + _REF_MOVES[a0][0]) % g, (p[0][1] + _REF_MOVES[a0][1]) % g)
        p[1] = ((p[1][0] + _REF_MOVES[a1][0]) % g, (p[1][1] + _REF_MOVES[a1][1]) % g)
        rr, rb, br, bb = float(p[0] == p[2]), float(p[0] == p[3]), float(p[1] == p[2]), float(p[1] == p[3])
        r0, r1 = rr + rb - 2.0 * br, bb + br - 2.0 * rb
        if rr or br:
            p[2] = (self.rng.randrange(g), self.rng.randrange(g))
        if rb or bb:
            p[3] = (self.rng.randrange(g), self.rng.randrange(g))
        self.t += 1
        if self.t % self.inner == 0 and self.t < self.horizon:
            self._board()
        rewards = {"agent_0": r0, "agent_1": r1}
        if self.principal:
            pay0, pay1 = float(self.contract[0, a0]), float(self.contract[1, a1])
            rewards = {"principal_0": 10.0 * (r0 + r1) - pay0 - pay1, "agent_0": r0 + pay0, "agent_1": r1 + pay1}
            self.stage, self.contract = 0, np.zeros((2, 5), np.float32)
        truncated = self.t >= self.horizon
        out = (
            self._obs(),
            rewards,
            dict.fromkeys(self.agents, False),
            dict.fromkeys(self.agents, truncated),
            {a: {} for a in self.agents},
        )
        if truncated:
            self.agents = []
        return out


def reference_runner(env) -> Callable[[int], int]:
    """``steps`` Parallel steps of ``env`` (reset at episode ends) with pre-generated actions."""
    env.reset(seed=0)
    action_sets = _single_action_sets(env, 0)

    def run(steps: int) -> int:
        step, reset = env.step, env.reset
        for k in range(steps):
            step(action_sets[k % PREGENERATED])
            if not env.agents:
                reset()
        return steps

    return run


def compare_with_reference(seconds: float, repeats: int) -> list[dict[str, Any]]:
    """The adapter and the pure-Python reference, timed alternately (best of ``repeats`` each)."""
    results = []
    for principal in (True, False):
        ours = reference_runner(
            contract_envs.make("parallel", "contract_envs/coin_game-v1", preset="jaxmarl", principal=principal)
        )
        ref = reference_runner(MinimalCoinGame(principal=principal))
        best_ours = best_ref = 0.0
        for _ in range(repeats):
            best_ours = max(best_ours, _timed(ours, seconds, 1))
            best_ref = max(best_ref, _timed(ref, seconds, 1))
        label = "coin_game/jaxmarl" + ("" if principal else "-no-principal")
        print(
            f"{label:32s} Parallel adapter {best_ours:10,.0f} steps/s | pure-Python reference "
            f"{best_ref:10,.0f} steps/s | ratio {best_ours / best_ref:.3f}"
        )
        results.append(
            {
                "env": label,
                "mode": "reference",
                "adapter_steps_per_s": best_ours,
                "reference_steps_per_s": best_ref,
                "ratio": best_ours / best_ref,
            }
        )
    return results


# --------------------------------------------------------------------------- load calibration
# The numpy Coin Game kernel of docs/reference performance.md Sec. 8 (JaxMARL-like rules, no
# contracts, no API), measured there on the quiet 2-core reference machine at 40,141 env-steps/s
# (B = 1) and 3,066,855 (B = 1024). Timing it next to our figures gives a load factor for a busy
# machine: estimate on the reference machine = our figure x reference / kernel measured here.
REFERENCE_KERNEL = {1: 40_141.0, 1024: 3_066_855.0}
_MOVES = np.array([[0, 1], [0, -1], [1, 0], [-1, 0], [0, 0]])


class _ReferenceKernel:
    def __init__(self, num_envs: int, grid: int = 3, horizon: int = 16, seed: int = 0) -> None:
        self.B, self.G, self.T = num_envs, grid, horizon
        self.rng = np.random.default_rng(seed)
        self.rows = np.arange(num_envs)
        self.pos = np.empty((num_envs, 4, 2), np.int64)
        self.t = np.zeros(num_envs, np.int64)
        self.obs = np.zeros((num_envs, 2, 4, grid * grid), np.uint8)
        self._reset(self.rows)

    def _reset(self, idx: np.ndarray) -> None:
        self.pos[idx] = self.rng.integers(0, self.G, size=(len(idx), 4, 2))
        self.t[idx] = 0

    def _observe(self) -> np.ndarray:
        cell = self.pos[:, :, 0] * self.G + self.pos[:, :, 1]
        self.obs.fill(0)
        for channel in range(4):
            self.obs[self.rows, 0, channel, cell[:, channel]] = 1
        self.obs[:, 1] = self.obs[:, 0, [1, 0, 3, 2]]
        return self.obs.reshape(self.B, 2, -1)

    def step(self, actions: np.ndarray):
        p = self.pos
        p[:, 0] = (p[:, 0] + _MOVES[actions[:, 0]]) % self.G
        p[:, 1] = (p[:, 1] + _MOVES[actions[:, 1]]) % self.G
        on = (p[:, :2, None, :] == p[:, None, 2:, :]).all(-1)
        reward = np.empty((self.B, 2), np.float32)
        reward[:, 0] = on[:, 0, 0] + on[:, 0, 1] - 2.0 * on[:, 1, 0]
        reward[:, 1] = on[:, 1, 1] + on[:, 1, 0] - 2.0 * on[:, 0, 1]
        taken = on.any(1)
        if taken.any():
            fresh = self.rng.integers(0, self.G, (self.B, 2, 2))
            p[:, 2:] = np.where(taken[:, :, None], fresh, p[:, 2:])
        self.t += 1
        done = self.t >= self.T
        if done.any():
            self._reset(np.nonzero(done)[0])
        return self._observe(), reward, done


def kernel_runner(num_envs: int) -> Callable[[int], int]:
    kernel, rng = _ReferenceKernel(num_envs), np.random.default_rng(0)
    actions = [rng.integers(0, 5, (num_envs, 2)) for _ in range(PREGENERATED)]

    def run(steps: int) -> int:
        for k in range(steps):
            kernel.step(actions[k % PREGENERATED])
        return steps * num_envs

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    modes = ["batched", "parallel", "aec", "reference"]
    labels = [e[0] for e in entries()]
    parser.add_argument("--envs", nargs="*", default=None, help=f"labels to run (default: all of {labels})")
    parser.add_argument("--modes", nargs="*", default=modes, choices=modes)
    parser.add_argument("--batch-sizes", nargs="*", type=int, default=list(DEFAULT_BATCH_SIZES))
    parser.add_argument("--seconds", type=float, default=1.0, help="target duration of one timed run")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per figure (best is reported)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--clock",
        default="wall",
        choices=sorted(CLOCKS),
        help="wall: perf_counter; cpu: this thread's CPU time (steadier on a shared, busy machine)",
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="also time the reference kernel (performance.md Sec. 8); print load-corrected estimates",
    )
    parser.add_argument(
        "--profile",
        default=None,
        choices=["batched", "parallel", "aec"],
        help="cProfile one mode (first selected env and batch size) and print the top functions",
    )
    args = parser.parse_args()

    global _clock
    _clock = CLOCKS[args.clock]
    chosen = [e for e in entries() if args.envs is None or e[0] in args.envs]
    if not chosen:
        parser.error(f"no entry matches --envs {args.envs}; known: {labels}")

    if args.profile:
        label, env_id, kwargs = chosen[0]
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

    print(
        f"contract-envs {contract_envs.__version__}, numpy {np.__version__}, Python {platform.python_version()}, "
        f"{platform.machine()}; best of {args.repeats} x ~{args.seconds:g} s, {args.clock} clock"
    )
    results = []
    factor = {1: 1.0, 1024: 1.0}
    if args.calibrate:
        for b in (1, 1024):
            rate = _timed(kernel_runner(b), args.seconds, args.repeats)
            factor[b] = REFERENCE_KERNEL[b] / rate
            results.append({"env": "reference_kernel", "mode": "batched", "num_envs": b, "env_steps_per_s": rate})
            print(
                f"{'reference kernel (Sec. 8)':32s} batched  B = {b:6d}: {rate:14,.0f} env-steps/s "
                f"(reference machine: {REFERENCE_KERNEL[b]:,.0f}; load factor {factor[b]:.2f})"
            )

    def est(rate: float, b: int) -> str:
        return f"  [~{rate * factor[1 if b == 1 else 1024]:,.0f} load-corrected]" if args.calibrate else ""

    if "reference" in args.modes:
        results += compare_with_reference(args.seconds, args.repeats)
    for label, env_id, kwargs in chosen:
        if "batched" in args.modes:
            for b in args.batch_sizes:
                rate = _timed(batched_runner(env_id, kwargs, b), args.seconds, args.repeats)
                results.append({"env": label, "mode": "batched", "num_envs": b, "env_steps_per_s": rate})
                print(f"{label:32s} batched  B = {b:6d}: {rate:14,.0f} env-steps/s{est(rate, b)}")
        if "parallel" in args.modes:
            run, stages = parallel_runner(env_id, kwargs)
            rate = _timed(run, args.seconds, args.repeats)
            results.append({"env": label, "mode": "parallel", "steps_per_s": rate, "rounds_per_s": rate / stages})
            print(f"{label:32s} Parallel      : {rate:14,.0f} steps/s ({rate / stages:,.0f} rounds/s){est(rate, 1)}")
        if "aec" in args.modes:
            run, players = aec_runner(env_id, kwargs)
            rate = _timed(run, args.seconds, args.repeats)
            results.append({"env": label, "mode": "aec", "steps_per_s": rate, "cycles_per_s": rate / players})
            print(f"{label:32s} AEC           : {rate:14,.0f} steps/s ({rate / players:,.0f} cycles/s){est(rate, 1)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
