"""PettingZoo's module convention, part of the adapter layer: ``from contract_envs.envs import coin_game_v1``
gives a module with ``env`` (AEC), ``raw_env`` and ``parallel_env`` for every registered game (version
in the name), built on first access by :func:`contract_envs.adapters.pettingzoo.versioned_module`. The
rules live in :mod:`contract_envs.games`; PettingZoo 1.27's registry
(``pettingzoo.make("parallel", "contract_envs/coin_game-v1")``) is the preferred route."""

from __future__ import annotations

import importlib
import re
import types

_VERSIONED = re.compile(r"^([a-z_]+)_v(\d+)$")


def __getattr__(name: str) -> types.ModuleType:
    if _VERSIONED.match(name) is None:
        raise AttributeError(f"module 'contract_envs.envs' has no attribute {name!r}")
    adapters = importlib.import_module("contract_envs.adapters.pettingzoo")  # loaded on first use
    try:
        module = adapters.versioned_module(name)
    except ValueError as err:
        raise AttributeError(str(err)) from None
    globals()[name] = module
    return module
