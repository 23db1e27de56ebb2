"""Batched API: ``B`` environments in lockstep on arrays, for learners that need speed.

``contract_envs.vector.make(env_id, num_envs, seed=...)`` returns the game's stage machine
(:class:`~contract_envs.core.machines.StageMachine`), reset. Environment ``b`` of a batch seeded
``s`` follows exactly the trajectory of a single environment seeded ``s + b`` given the same
actions. ``step`` takes a dict player -> action batch (leading axis ``B``) and returns
(observations, rewards, terminations, truncations, infos) as dicts of arrays keyed by player.
"""

from __future__ import annotations

from typing import Any

from contract_envs.checks import check_int
from contract_envs.core.machines import StageMachine, machine_for
from contract_envs.registry import spec


def make(env_id: str, num_envs: int, seed: int | None = None, autoreset: bool = True, **kwargs: Any) -> StageMachine:
    """Batched environment ``env_id`` with ``num_envs`` copies, reset with ``seed``.

    ``autoreset=True`` resets an environment whose episode ended within the same ``step`` (its final
    observation is kept in ``final_observations``); with ``False`` stepping it raises until ``reset``.
    """
    num_envs = check_int("num_envs", num_envs, 1)
    machine = machine_for(spec(env_id).make_game(num_envs=num_envs, **kwargs), seed=seed, autoreset=autoreset)
    machine.reset(seed=seed)
    return machine


__all__ = ["StageMachine", "make"]
