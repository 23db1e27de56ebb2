"""TorchRL: every registered game as a ``PettingZooWrapper`` with role groups (full game or agents only).

TorchRL stacks the specs of a group, so players are grouped by role only where they share their
spaces (:func:`~contract_envs.wrappers.group_map`: ``principal``, ``agent``; the nodes of a tree,
whose spaces differ, one group each). ``done_on_any=False`` (episodes end for everyone together) and
the global state are set. ``observations="flat"`` / ``actions="flat"`` apply
:class:`~contract_envs.wrappers.FlattenParallelEnv` (what BenchMARL's MLPs need).

Needs ``torchrl`` (the ``test`` and ``benchmarl`` extras).
"""

from __future__ import annotations

import warnings
from typing import Any

from torchrl.envs import PettingZooWrapper

from contract_envs.adapters.pettingzoo import ParallelContractEnv
from contract_envs.adapters.views import AgentsOnlyParallelEnv
from contract_envs.wrappers import FlattenParallelEnv, group_map


def parallel_env(
    env_id: str,
    agents_only: bool = False,
    observations: str = "raw",
    actions: str = "raw",
    principal_policy: Any = None,
    **kwargs: Any,
):
    """The PettingZoo ParallelEnv that :func:`make_env` wraps (the full game, or the agents-only view
    with ``principal_policy`` plugged in), flattened as asked."""
    if agents_only:
        env = AgentsOnlyParallelEnv(env_id, principal_policy=principal_policy, **kwargs)
    else:
        if principal_policy is not None:
            raise ValueError("principal_policy plugs a principal into the agents-only view: pass agents_only=True")
        env = ParallelContractEnv(env_id, **kwargs)
    if observations == "raw" and actions == "raw":
        return env
    return FlattenParallelEnv(env, observations=observations, actions=actions, clip_actions=True)


def make_env(
    env_id: str,
    agents_only: bool = False,
    observations: str = "raw",
    actions: str = "raw",
    principal_policy: Any = None,
    seed: int | None = None,
    device: Any = "cpu",
    **kwargs: Any,
) -> PettingZooWrapper:
    """A TorchRL environment of ``env_id`` with role groups (see the module docstring).

    Args:
        env_id: a registered id.
        agents_only: the agents' game (:class:`~contract_envs.views.AgentsOnlyParallelEnv`).
        observations: ``"raw"``, ``"flat"`` or ``"image"``.
        actions: ``"raw"`` or ``"flat"``.
        principal_policy: the offers in the agents-only view (``None``: no contracts).
        seed: passed to TorchRL (``reset(seed=...)``).
        device: TorchRL device.
        **kwargs: the game's arguments.
    """
    env = parallel_env(env_id, agents_only, observations, actions, principal_policy, **kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchRL warns about the PettingZoo version it was tested with
        return PettingZooWrapper(
            env,
            return_state=True,
            group_map=group_map(env),
            done_on_any=False,
            categorical_actions=True,
            seed=seed,
            device=device,
        )


__all__ = ["make_env", "parallel_env"]
