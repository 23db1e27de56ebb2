"""The battery for every registered environment, with its default arguments (see ``tests/battery.py``)."""

import warnings

import pytest

import contract_envs
from tests import battery

ENV_IDS = contract_envs.env_ids()

CHECKS = [
    battery.check_pettingzoo,
    battery.check_max_cycles,
    battery.check_determinism,
    battery.check_copies,
    battery.check_snapshot_restore,
    battery.check_batched_matches_single,
    battery.check_aec_matches_parallel,
    battery.check_episode_guards,
]


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__.removeprefix("check_"))
@pytest.mark.parametrize("env_id", ENV_IDS)
def test_battery(env_id, check):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(env_id, {})


FUZZ_COUNTS: dict[str, int] = {}


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_moves_are_rejected_at_the_step_that_made_them(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tried = battery.fuzz_env(env_id, {})
    assert tried >= 50, tried  # every env contributes: >= 400 bad moves over the 8 registered envs


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_constructor_arguments_are_rejected(env_id):
    assert battery.fuzz_constructor(env_id) >= 8


RULES_MAY_IMPORT = (
    "numpy",
    "scipy",
    "gymnasium.spaces",
    "contract_envs.core.game",
    "contract_envs.contracts",
    "contract_envs.rng",
    "contract_envs.checks",
    "contract_envs.games._incentive_common",
    "contract_envs.games._draw",
)


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_rules_modules_sit_below_the_adapters(env_id):
    """A rules module imports the standard library, numpy/scipy/``gymnasium.spaces`` and the game layer only
    (the Game protocol, the contract layer, the RNG, the checks): never PettingZoo, an adapter or a machine."""
    import ast
    import importlib
    import sys

    from contract_envs.registry import spec

    module = importlib.import_module(spec(env_id).module)
    tree = ast.parse(open(module.__file__).read())
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            imported += [f"{base}.{alias.name}" if base == "gymnasium" else base for alias in node.names]
    for mod in imported:
        stdlib = mod.split(".")[0] in sys.stdlib_module_names
        assert stdlib or any(mod == a or mod.startswith(a + ".") for a in RULES_MAY_IMPORT), f"{env_id} imports {mod}"
