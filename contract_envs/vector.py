"""Batched API: ``B`` environments in lockstep on arrays, for learners that need speed.

``contract_envs.vector.make(env_id, num_envs, seed=...)`` returns a
:class:`~contract_envs.core.VectorContractEnv` with auto-reset. Environment ``b`` of a batch
seeded ``s`` follows exactly the trajectory of a single environment seeded ``s + b`` given the
same actions.
"""

from __future__ import annotations

from typing import Any

from contract_envs.core import VectorContractEnv
from contract_envs.pettingzoo_api import vector_env_for
from contract_envs.registration import game_factory


def make(
    env_id: str, num_envs: int, seed: int | None = None, autoreset: bool = True, **kwargs: Any
) -> VectorContractEnv:
    """Batched environment ``env_id`` with ``num_envs`` copies, reset with ``seed``."""
    game = game_factory(env_id)(num_envs=num_envs, **kwargs)
    env = vector_env_for(game, autoreset=autoreset)
    env.reset(seed=seed)
    return env


__all__ = ["VectorContractEnv", "make"]
