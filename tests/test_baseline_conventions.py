"""Every file in ``baselines/`` follows the baseline conventions (``baselines/README.md``).

* ``--help`` shows the module docstring (``tyro.cli(Args, description=__doc__)``);
* a tiny run writes ``{runs_dir}/{algorithm}__{env_name}__{seed}__{unix_time}/metrics.json`` with exactly the keys
  and types of the ``contract-envs/metrics/v1`` schema, and ``model.pt`` holding ``{"args", "state_dicts"}``;
* ``--eval-checkpoint`` reloads that model (its args override the command line's, except evaluation options) and
  writes the evaluation into a new run folder.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from contract_envs.registry import spec

ROOT = Path(__file__).resolve().parents[1]
BASELINES = sorted(p.name for p in (ROOT / "baselines").glob("*.py") if p.name != "__init__.py")
SCHEMA_KEYS = {
    "schema",
    "algorithm",
    "env_id",
    "env_kwargs",
    "seed",
    "args",
    "final",
    "history",
    "wall_clock_s",
    "versions",
    "eval",
}
# file -> (registered env name of the tiny run, tiny-run flags): seconds, not results
TINY = {
    "metagrad_incentives.py": (
        "escape_room",
        ["--env-kwargs", '{"n_agents": 3, "min_at_lever": 2}', "--num-iterations", "2", "--num-envs", "4"]
        + ["--num-eval-episodes", "4", "--agent-hidden", "4", "--designer-hidden", "4"],
    ),
    "dual_rl_designer.py": (
        "escape_room",
        ["--n-agents", "3", "--min-at-lever", "2", "--num-iterations", "2", "--num-envs", "4", "--eval-episodes", "4"],
    ),
    "lio_peer_incentives.py": (
        "prisoners_dilemma",
        ["--env-id", "contract_envs/prisoners_dilemma-v1", "--num-iterations", "2", "--num-envs", "4"]
        + ["--eval-episodes", "4"],
    ),
    "ipa_bandit.py": ("contract_bandit", ["--horizon", "200", "--num-seeds", "2", "--eval-rounds", "10"]),
    "contract_grid_ucb.py": (
        "contract_bandit",
        ["--horizon", "200", "--num-seeds", "2", "--grid-step", "0.1", "--eval-rounds", "10"],
    ),
    "tree_contracts_learning.py": (
        "tree_contracts",
        ["--instance", "T2", "--horizon", "300", "--num-seeds", "2", "--eval-rounds", "10"],
    ),
    "parl_coin_game.py": (
        "coin_game",
        ["--preset", "parl_3x3", "--total-env-steps", "160", "--validation-env-steps", "160", "--num-envs", "2"]
        + ["--learning-starts", "16", "--batch-size", "8", "--eval-episodes", "2"],
    ),
    "dqn_independent.py": (
        "coin_game",
        ["--preset", "parl_3x3", "--total-env-steps", "160", "--num-envs", "2", "--learning-starts", "16"]
        + ["--batch-size", "8", "--eval-episodes", "2"],
    ),
    "parl_dqn_tree.py": (
        "principal_agent_mdp",
        ["--depth", "3", "--iterations", "40", "--num-envs", "2", "--batch-size", "8", "--learning-starts", "8"]
        + ["--eval-frequency", "20"],
    ),
    "parl_tabular.py": (
        "principal_agent_mdp",
        ["--depth", "2", "--meta-iterations", "1", "--rounds-per-phase", "200", "--num-envs", "8"],
    ),
    "ppo_shared.py": (
        "gather_trade_build",
        ["--total-timesteps", "480", "--num-envs", "4", "--num-eval-episodes", "2", "--planner", "dual_rl"],
    ),
    "metagrad_gtb.py": (
        "gather_trade_build",
        ["--total-timesteps", "480", "--num-envs", "4", "--num-eval-episodes", "2", "--meta-samples", "64"],
    ),
}


def _cases():
    for name in BASELINES:
        yield pytest.param(name, id=name[: -len(".py")])


def _run(name: str, *flags: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), COLUMNS="200")
    cmd = [sys.executable, str(ROOT / "baselines" / name), *flags]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _words(text: str) -> str:
    """Text with every run of whitespace (and line-continuation backslashes) as one space."""
    return re.sub(r"[\s\\]+", " ", text).strip()


def _args_fields(name: str) -> set[str]:
    spec = importlib.util.spec_from_file_location(f"conventions_{name[:-3]}", ROOT / "baselines" / name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return {f.name for f in dataclasses.fields(module.Args)}


def _only_run_folder(runs: Path, algorithm: str, env_name: str, seed: int) -> Path:
    (folder,) = [p for p in runs.iterdir() if p.is_dir()]
    assert re.fullmatch(rf"{algorithm}__{env_name}__{seed}__\d{{10}}", folder.name), folder.name
    return folder


def _check_schema(metrics: dict, algorithm: str, env_name: str, seed: int, fields: set[str]) -> None:
    assert set(metrics) == SCHEMA_KEYS
    assert metrics["schema"] == "contract-envs/metrics/v1"
    assert metrics["algorithm"] == algorithm
    assert metrics["env_id"] == spec(env_name).id
    assert isinstance(metrics["env_kwargs"], dict)
    assert metrics["seed"] == seed and type(metrics["seed"]) is int
    assert set(metrics["args"]) == fields  # every Args field, nothing else
    assert metrics["final"] and all(type(k) is str and type(v) is float for k, v in metrics["final"].items())
    assert isinstance(metrics["history"], list)
    for entry in metrics["history"]:
        assert type(entry["step"]) is int
        assert all(type(v) in (int, float) for v in entry.values()), entry
    assert type(metrics["wall_clock_s"]) is float and metrics["wall_clock_s"] >= 0.0
    versions = metrics["versions"]
    assert set(versions) == {"contract_envs", "python", "numpy", "torch"}
    assert all(type(versions[k]) is str for k in ("contract_envs", "python", "numpy"))
    assert versions["torch"] is None or type(versions["torch"]) is str


def test_every_baseline_has_a_tiny_run():
    assert set(BASELINES) == set(TINY), "add the new baseline's tiny run to TINY"


@pytest.mark.parametrize("name", list(_cases()))
def test_help_shows_the_module_docstring(name, tmp_path):
    docstring = ast.get_docstring(ast.parse((ROOT / "baselines" / name).read_text()), clean=True)
    assert docstring and "PYTHONPATH=. python baselines/" + name in docstring  # the fastest meaningful command
    result = _run(name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    shown = _words(result.stdout)
    for paragraph in docstring.split("\n\n"):
        assert _words(paragraph) in shown, paragraph[:200]


@pytest.mark.parametrize("name", list(_cases()))
def test_tiny_run_metrics_schema_and_checkpoint_round_trip(name, tmp_path):
    algorithm, (env_name, flags) = name[: -len(".py")], TINY[name]
    fields = _args_fields(name)
    runs = tmp_path / "runs"
    result = _run(name, *flags, "--seed", "7", "--save-model", "--runs-dir", str(runs), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    folder = _only_run_folder(runs, algorithm, env_name, 7)
    metrics = json.loads((folder / "metrics.json").read_text())
    _check_schema(metrics, algorithm, env_name, 7, fields)
    assert metrics["eval"] is None

    checkpoint = torch.load(folder / "model.pt", weights_only=False)
    assert set(checkpoint) == {"args", "state_dicts"} and checkpoint["state_dicts"]
    assert json.loads(json.dumps(checkpoint["args"])) == metrics["args"]

    # the checkpoint's args override the command line (--seed 99 is ignored), evaluation options do not
    evals = tmp_path / "evals"
    model = str(folder / "model.pt")
    result = _run(name, "--eval-checkpoint", model, "--seed", "99", "--runs-dir", str(evals), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    again = json.loads((_only_run_folder(evals, algorithm, env_name, 7) / "metrics.json").read_text())
    _check_schema(again, algorithm, env_name, 7, fields)
    assert set(again["eval"]) == {"checkpoint", "final"} and again["eval"]["checkpoint"] == model
    assert again["eval"]["final"] and all(type(v) is float for v in again["eval"]["final"].values())
