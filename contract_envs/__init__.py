"""contract-envs: multi-agent environments where a principal steers agents with contracts.

Submodules are loaded on first use: ``contract_envs.vector``, ``.views``, ``.solvers``,
``.contracts``, ``.adapters``, ``.core``, ``.games``, ``.registry`` are reachable as attributes after
``import contract_envs`` without slowing that import down.
"""

from __future__ import annotations

import importlib
from typing import Any

from contract_envs.registry import env_ids, make, register_all

__version__ = "0.2.0"

_SUBMODULES = (
    "adapters",
    "checks",
    "contracts",
    "core",
    "demo",
    "envs",
    "games",
    "registry",
    "rng",
    "solvers",
    "vector",
    "views",
    "wrappers",
)

register_all()


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"contract_envs.{name}")
    raise AttributeError(f"module 'contract_envs' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])


__all__ = ["__version__", "env_ids", "make"]
