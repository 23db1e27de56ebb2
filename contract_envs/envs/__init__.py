"""PettingZoo's module convention: ``from contract_envs.envs import coin_game_v1`` gives a module with
``env`` (AEC), ``raw_env`` and ``parallel_env`` for every registered game (version included in the
name), built on first access. The rules live in :mod:`contract_envs.games`; PettingZoo 1.27's
registry (``pettingzoo.make("parallel", "contract_envs/coin_game-v1")``) is the preferred route."""

from __future__ import annotations

import re
import types

_VERSIONED = re.compile(r"^([a-z_]+)_v(\d+)$")


def __getattr__(name: str) -> types.ModuleType:
    match = _VERSIONED.match(name)
    if match is None:
        raise AttributeError(f"module 'contract_envs.envs' has no attribute {name!r}")
    from contract_envs.registry import pettingzoo_module

    try:
        module = pettingzoo_module(name)
    except ValueError as err:
        raise AttributeError(str(err)) from None
    globals()[name] = module
    return module
