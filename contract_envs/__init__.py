"""contract-envs: multi-agent environments where a principal steers agents with contracts.

Submodules are loaded on first use: ``contract_envs.vector``, ``.views``, ``.solvers``,
``.contracts``, ``.adapters``, ``.core``, ``.games``, ``.registry`` are reachable as attributes after
``import contract_envs`` without slowing that import down.
"""

from __future__ import annotations

from typing import Any

from contract_envs._lazy import lazy_submodules
from contract_envs.registry import env_ids, register_all

__version__ = "0.2.0"

_SUBMODULES = (
    "adapters",
    "checks",
    "contracts",
    "core",
    "demo",
    "envs",
    "games",
    "integrations",
    "registry",
    "rng",
    "solvers",
    "vector",
    "views",
    "wrappers",
)

register_all()


def make(env_type: str, env_id: str, **kwargs: Any):
    """Create an environment: ``make("parallel" | "aec", "contract_envs/<name>-v1", **kwargs)``
    (the PettingZoo adapters, loaded on first use)."""
    from contract_envs.adapters.pettingzoo import make as make_adapter

    return make_adapter(env_type, env_id, **kwargs)


__getattr__ = lazy_submodules(__name__, _SUBMODULES)


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBMODULES])


__all__ = ["__version__", "env_ids", "make"]
