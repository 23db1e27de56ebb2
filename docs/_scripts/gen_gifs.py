"""Render a short episode of every registered environment to ``docs/img/envs/<name>.gif``.

Run ``python docs/_scripts/gen_gifs.py`` (needs the ``docs`` extra: imageio). Each environment is played
through its PettingZoo Parallel API with ``render_mode="rgb_array"`` by the exact solution where the suite has
one (the SPE principal on trees, the Coin Game principal's optimum against the documented selfish agents, the
tree game's equilibrium, the bandit's optimal contract, the incentive games' sustaining schedules and
equilibria), by a fixed planner and weighted random agents on Gather-Trade-Build (no exact solution), and by
uniformly random moves otherwise (any game without an entry in ``EPISODES``). The frames'
SHA-256 and the GIF's are written to ``docs/img/envs/manifest.json`` with a caption saying what is played;
``--check`` re-renders every episode and fails if a frame or a GIF differs from the manifest (the test suite
runs it, so the GIFs stay the pictures of the current code).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import contract_envs  # noqa: E402
from contract_envs.registry import ENVIRONMENTS  # noqa: E402

OUT = ROOT / "docs" / "img" / "envs"
MANIFEST = OUT / "manifest.json"
MAX_GIF_BYTES = 600_000


class Episode:
    """Frames of a rendered episode, with the caption shown under the GIF and the frame duration."""

    def __init__(self, caption: str, duration_ms: int = 900) -> None:
        self.caption, self.duration_ms = caption, duration_ms
        self.frames: list[np.ndarray] = []

    def snap(self, env) -> None:
        self.frames.append(env.render())


def _make(name: str, **kwargs):
    env_id = contract_envs.registry.spec(name).id
    return contract_envs.make("parallel", env_id, render_mode="rgb_array", **kwargs)


# --------------------------------------------------------------------------- solved or scripted episodes
def principal_agent_mdp() -> Episode:
    from contract_envs.solvers import solve_spe

    ep = Episode(
        "The exact subgame-perfect principal (`contract_envs.solvers.solve_spe`) on the default instance (a random "
        "binary tree of depth 4): each round it offers the SPE's min-pay contract and the agent takes the "
        "recommended action, a best response to it. Two episodes (seeds 0 and 1); the bold path is the play so far."
    )
    env = _make("principal_agent_mdp")
    sol = solve_spe(env.machine.game.spec)
    for seed in (0, 1):
        obs, _ = env.reset(seed=seed)
        ep.snap(env)
        while env.agents:
            s = int(obs["principal_0"])
            env.step({"principal_0": sol.contract[s][None]})
            ep.snap(env)
            obs, *_ = env.step({"agent_0": int(sol.recommended_action[s])})
            ep.snap(env)
    return ep


def coin_game(rounds: int = 12) -> Episode:
    from contract_envs.solvers import solve_coin_game_principal

    ep = Episode(
        f"The first {rounds} rounds of an episode of the default `parl` preset (7x7, 50 rounds) played by the exact "
        "optimal principal against the documented selfish agents (`contract_envs.solvers.solve_coin_game_principal`"
        ", agents `SelfishCoinAgent`, the game's `default_policy()`): each round it pays an agent just enough to "
        "take the move of the welfare-optimal plan, often nothing.",
        duration_ms=700,
    )
    env = _make("coin_game")
    game = env.machine.game
    sol = solve_coin_game_principal(
        game.rules, welfare_weight=game.welfare_weight, payment_cap=game.principal.payment_cap
    )
    agent = game.default_policy()
    obs, _ = env.reset(seed=0)
    ep.snap(env)
    for t in range(rounds):
        state = env.machine.state
        cells, coins, colours = state.agent_cell, state.coin_cell, state.coin_colour[:, 0]
        target = sol.actions(t, cells, coins, colours)
        contract = sol.contracts(target, cells, coins, colours)[0]
        obs, *_ = env.step({"principal_0": contract})
        ep.snap(env)
        moves = {a: agent(a, obs[a]) for a in game.agents}
        obs, *_ = env.step(moves)
        ep.snap(env)
    return ep


def escape_room() -> Episode:
    from contract_envs.solvers import escape_room_min_lever_incentive, escape_room_optimal_profile

    env = _make("escape_room")
    game = env.machine.game
    n, m = game.n_agents, game.min_at_lever
    lever = escape_room_min_lever_incentive(game.move_cost) + 0.1
    ep = Episode(
        f"ER({n},{m}). First episode: no incentives; every agent stays at the start (the unique equilibrium; moving "
        f"costs 1 and the door needs {m} agents at the lever). Second episode: the designer pays {lever:.1f} for "
        f"the lever (any amount above 1 makes the welfare optimum a strict equilibrium, "
        f"`contract_envs.solvers.escape_room_min_lever_incentive`) and the agents play that equilibrium: {m} pull "
        f"the lever, {n - m} leave through the door."
    )
    env.reset(seed=0)
    ep.snap(env)
    while env.agents:
        env.step({"principal_0": np.zeros(3), **{a: 1 for a in game.agents}})  # 1 = stay at the start
        ep.snap(env)
    env.reset(seed=1)
    ep.snap(env)
    moves = {a: int(p) for a, p in zip(game.agents, escape_room_optimal_profile(n, m), strict=True)}
    while env.agents:
        env.step({"principal_0": np.array([lever, 0.0, 0.0]), **moves})
        ep.snap(env)
    return ep


def prisoners_dilemma() -> Episode:
    from contract_envs.solvers import pd_min_incentive_gap

    env = _make("prisoners_dilemma")
    gap = pd_min_incentive_gap() + 0.1
    ep = Episode(
        "First episode: no incentives; both agents defect, the dominant action. Second episode: the designer pays "
        f"{gap:.1f} for cooperating, above the gap that makes cooperation dominant "
        "(`contract_envs.solvers.pd_min_incentive_gap`), and both agents cooperate."
    )
    for seed, schedule, action in ((0, np.zeros(2), 1), (1, np.array([gap, 0.0]), 0)):
        env.reset(seed=seed)
        ep.snap(env)
        while env.agents:
            env.step({"principal_0": schedule, "agent_0": action, "agent_1": action})
            ep.snap(env)
    return ep


def tax_economy() -> Episode:
    from contract_envs.solvers import taxlite_solve

    sol = taxlite_solve()
    rates = (0.0, 0.25, 0.5, sol.best_rate)
    ep = Episode(
        "TaxLite (one round per episode) at flat rates "
        + ", ".join(f"{r:g}" for r in rates)
        + f": at each rate the workers play the exact labour equilibrium (`contract_envs.solvers.taxlite_solve`); "
        f"t* = {sol.best_rate:g} maximises productivity x equality ({sol.best_objective:.1f})."
    )
    env = _make("tax_economy")
    for k, rate in enumerate(rates):
        env.reset(seed=k)
        ep.snap(env)
        labour = sol.labour[sol.at(rate)]
        env.step({"principal_0": np.array([rate]), **{f"agent_{i}": int(x) for i, x in enumerate(labour)}})
        ep.snap(env)
    return ep


def tree_contracts(rounds: int = 4) -> Episode:
    from contract_envs.solvers import solve_tree_contracts

    env = _make("tree_contracts")
    game = env.machine.game
    sol = solve_tree_contracts(game.instance)
    ep = Episode(
        f"Instance {game.instance.name}: {rounds} rounds of the exact equilibrium "
        "(`contract_envs.solvers.solve_tree_contracts`): top-down, each parent recommends its child's equilibrium "
        "action with the equilibrium transfer; then every node acts and the transfers are paid (rewards carry the "
        "game's Gaussian noise)."
    )
    env.reset(seed=0)
    ep.snap(env)
    names = game.players
    for _ in range(rounds):
        moves = {}
        for v, p in enumerate(names):
            action = int(sol.actions[p])
            kids = game.children[v]
            if kids:
                recs = np.array([sol.actions[names[w]] for w in kids], dtype=np.int64)
                pay = np.array([sol.transfers[names[w]] for w in kids], dtype=np.float64)
                moves[p] = {"action": action, "recommendations": recs, "transfers": pay}
            else:
                moves[p] = action
        for stage_movers in env.machine.stage_movers:
            env.step({p: moves[p] for p in stage_movers})
            ep.snap(env)
    return ep


def contract_bandit(free_rounds: int = 3, paid_rounds: int = 4) -> Episode:
    from contract_envs.solvers import solve_contract_bandit

    env = _make("contract_bandit")
    game = env.machine.game
    sol = solve_contract_bandit(game.instance)
    margin = 1.0 / game.horizon**2  # the reference's robust offer: tau* + 1/T^2 (ties go to the lowest arm)
    contract = sol.contract + margin * (sol.contract > 0)
    ep = Episode(
        f"Instance {game.instance.name} with the best-responding agent (the game's `default_policy()`): "
        f"{free_rounds} rounds without payments (the agent pulls arm {sol.no_contract_action}, its favourite), "
        f"then the optimal contract (`contract_envs.solvers.solve_contract_bandit`: {sol.incentive:.2f} on arm "
        f"{sol.action}, plus 1/T^2 to break the tie) and the agent switches to arm {sol.action}."
    )
    agent = game.default_policy()
    env.reset(seed=0)
    ep.snap(env)
    for r in range(free_rounds + paid_rounds):
        offer = np.zeros_like(contract) if r < free_rounds else contract
        obs, *_ = env.step({"principal_0": offer[None]})
        ep.snap(env)
        env.step({"agent_0": agent("agent_0", obs["agent_0"])})
        ep.snap(env)
    return ep


def gather_trade_build(steps: int = 60, move_probability: float = 0.8) -> Episode:
    from contract_envs.games.gather_trade_build import us_federal_planner

    env = _make("gather_trade_build")
    game = env.machine.game
    ep = Episode(
        f"The first {steps} of {game.horizon} steps of an episode of the `paper` preset (seed 0) under the 2018 "
        "US-federal rates (`us_federal_planner()`; no optimal tax schedule is computed for this economy). The "
        "agents play random allowed actions weighted towards gathering and building: build whenever they can, "
        f"else a random allowed move with probability {move_probability:g}, else any allowed action (a bid, an "
        "ask, a move or nothing). Taxes are collected every 10 steps and shared equally.",
        duration_ms=300,
    )
    planner = us_federal_planner()
    rng = np.random.default_rng(0)
    moves = np.arange(game.action_move, game.n_actions)
    obs, _ = env.reset(seed=0)
    ep.snap(env)
    for _ in range(steps):
        actions = {"principal_0": planner(obs["principal_0"])}
        for agent in game.agents:
            mask = obs[agent]["action_mask"].astype(bool)
            if mask[game.action_build]:
                actions[agent] = game.action_build
            elif mask[moves].any() and rng.random() < move_probability:
                actions[agent] = int(rng.choice(moves[mask[moves]]))
            else:
                actions[agent] = int(rng.choice(np.flatnonzero(mask)))
        obs, *_ = env.step(actions)
        ep.snap(env)
    return ep


EPISODES: dict[str, Callable[[], Episode]] = {
    "principal_agent_mdp": principal_agent_mdp,
    "coin_game": coin_game,
    "escape_room": escape_room,
    "prisoners_dilemma": prisoners_dilemma,
    "tax_economy": tax_economy,
    "tree_contracts": tree_contracts,
    "contract_bandit": contract_bandit,
    "gather_trade_build": gather_trade_build,
}


def random_episode(name: str, steps: int = 24) -> Episode:
    """Uniformly random moves of every player (numpy-seeded) with the game's default arguments."""
    ep = Episode("Uniformly random moves of every player with the default arguments (seed 0).", duration_ms=500)
    env = _make(name)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    ep.snap(env)
    for _ in range(steps):
        if not env.agents:
            env.reset()
        env.step({p: _random_move(env.action_space(p), rng) for p in env.agents})
        ep.snap(env)
    return ep


def _random_move(space, rng: np.random.Generator):
    from gymnasium import spaces

    if isinstance(space, spaces.Dict):
        return {k: _random_move(sub, rng) for k, sub in space.spaces.items()}
    if isinstance(space, spaces.MultiDiscrete):
        return rng.integers(space.nvec).astype(space.dtype)
    if isinstance(space, spaces.Discrete):
        return int(space.start + rng.integers(space.n))
    return rng.uniform(space.low, space.high).astype(space.dtype)


def episode(name: str) -> Episode:
    """The documented episode of ``name`` (random play for a game without an entry in ``EPISODES``)."""
    ep = EPISODES[name]() if name in EPISODES else random_episode(name)
    shapes = {f.shape for f in ep.frames}
    if len(shapes) != 1:
        raise ValueError(f"{name}: frames of different shapes {shapes}; a game's frames must keep one shape")
    return ep


def frames_digest(frames: list[np.ndarray]) -> str:
    digest = hashlib.sha256()
    for f in frames:
        digest.update(np.ascontiguousarray(f, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def write_gif(path: Path, frames: list[np.ndarray], duration_ms: int) -> None:
    import imageio.v3 as iio

    iio.imwrite(path, np.stack(frames), extension=".gif", duration=duration_ms, loop=0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="fail if a GIF differs from what the code renders now")
    parser.add_argument("names", nargs="*", help="environments to render (default: every registered one)")
    args = parser.parse_args()
    names = args.names or list(ENVIRONMENTS)
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.exists() else {}
    problems = []
    for name in names:
        ep = episode(name)
        entry = {
            "caption": ep.caption,
            "frames": len(ep.frames),
            "shape": list(ep.frames[0].shape),
            "duration_ms": ep.duration_ms,
            "frames_sha256": frames_digest(ep.frames),
        }
        gif = OUT / f"{name}.gif"
        if args.check:
            old = manifest.get(name)
            if old is None or not gif.exists():
                problems.append(f"{name}: no GIF or manifest entry")
            elif any(old.get(k) != v for k, v in entry.items()):
                problems.append(f"{name}: the code renders other frames than the GIF's")
            elif hashlib.sha256(gif.read_bytes()).hexdigest() != old["gif_sha256"]:
                problems.append(f"{name}: {gif.relative_to(ROOT)} was not written by this script")
            continue
        OUT.mkdir(parents=True, exist_ok=True)
        write_gif(gif, ep.frames, ep.duration_ms)
        size = gif.stat().st_size
        if size > MAX_GIF_BYTES:
            problems.append(f"{name}: {size} bytes, above {MAX_GIF_BYTES}: fewer or smaller frames")
        entry["gif_sha256"] = hashlib.sha256(gif.read_bytes()).hexdigest()
        entry["bytes"] = size
        manifest[name] = entry
        print(f"wrote {gif.relative_to(ROOT)}: {len(ep.frames)} frames {ep.frames[0].shape}, {size / 1000:.0f} kB")
    if not args.check:
        manifest = {k: manifest[k] for k in sorted(manifest) if k in ENVIRONMENTS}
        MANIFEST.write_text(json.dumps(manifest, indent=1) + "\n")
    if problems:
        sys.exit("GIFs out of date (run python docs/_scripts/gen_gifs.py):\n" + "\n".join(problems))


if __name__ == "__main__":
    main()
