"""benchmarks/grid.py: a reproduction grid on a local Ray instance gives the results of a sequential run."""

import importlib.util
import os

import numpy as np
import pytest

from benchmarks.grid import run_grid
from tests.extras import require


def seeded_rollout(task):
    """A deterministic function of its seed: a Coin Game episode under a seeded random policy."""
    import contract_envs

    method, seed = task
    env = contract_envs.make("parallel", "contract_envs/coin_game-v1", horizon=8)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    returns = dict.fromkeys(env.possible_agents, 0.0)
    while env.agents:
        scale = 0.0 if method == "no_contract" else 1.0
        moves = {p: int(rng.integers(4)) for p in env.agents if p != "principal_0"}
        moves["principal_0"] = (scale * rng.random((2, 4))).astype(np.float32)
        _, rewards, *_ = env.step(moves)
        for p, r in rewards.items():
            returns[p] += r
    return {"method": method, "seed": seed, "returns": returns, "pid": os.getpid()}


GRID = [("no_contract", 1), ("random_contract", 2)]


def test_jobs_one_runs_in_order_in_this_process():
    out = run_grid(seeded_rollout, GRID, jobs=1)
    assert [(r["method"], r["seed"]) for r in out] == GRID and {r["pid"] for r in out} == {os.getpid()}
    with pytest.raises(ValueError, match="jobs must be an integer >= 1"):
        run_grid(seeded_rollout, GRID, jobs=0)


def test_two_task_grid_on_local_ray_equals_the_sequential_run():
    if importlib.util.find_spec("ray") is None:
        require("ray", "rllib")
    sequential = [seeded_rollout(task) for task in GRID]
    on_ray = run_grid(seeded_rollout, GRID, jobs=2)
    for a, b in zip(sequential, on_ray, strict=True):
        assert (a["method"], a["seed"]) == (b["method"], b["seed"])
        assert a["returns"] == b["returns"]  # exactly, not approximately
    assert all(r["pid"] != os.getpid() for r in on_ray)  # the runs really ran in Ray workers
    assert sequential[0]["returns"] != sequential[1]["returns"]
