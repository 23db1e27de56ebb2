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
    assert tried >= 20, tried  # every env contributes: >= 160 bad moves over the 8 registered envs


@pytest.mark.parametrize("env_id", ENV_IDS)
def test_bad_constructor_arguments_are_rejected(env_id):
    assert battery.fuzz_constructor(env_id) >= 8
