"""Stable-Baselines3 (through SuperSuit): the agents-only view of any game as an SB3 ``VecEnv``.

One shared policy plays every agent (SuperSuit gives each agent of each game copy a slot of the vector
env), with the principal's offers from a plugged-in policy (``None``: no contracts). Observations are
flattened to one vector (:class:`~contract_envs.wrappers.FlattenParallelEnv`); players whose
observations differ in size (the nodes of a tree) are zero-padded to the largest
(``supersuit.pad_observations_v0``). The result is wrapped in ``VecMonitor`` (episode returns and
lengths in ``info["episode"]``, which SB3 logs), and seeding works: ``PPO(..., seed=s)`` seeds copy ``i``
of the game with ``s + i`` at the first reset (SuperSuit's SB3 wrapper forwards no seed).

Usage::

    from stable_baselines3 import PPO
    from contract_envs.integrations.sb3 import make_vec_env

    venv = make_vec_env("contract_envs/coin_game-v1", num_envs=4, horizon=20)
    PPO("MlpPolicy", venv, seed=0).learn(20_000)

Needs the ``sb3`` extra (``stable-baselines3``; SuperSuit comes with the ``test`` extra).
"""

from __future__ import annotations

from typing import Any

import supersuit as ss
from stable_baselines3.common.vec_env import VecEnv, VecMonitor
from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

from contract_envs.adapters.views import AgentsOnlyParallelEnv
from contract_envs.checks import check_int
from contract_envs.wrappers import FlattenParallelEnv


class SeededSB3VecEnv(SB3VecEnvWrapper):
    """SuperSuit's SB3 wrapper with working ``seed``: the seed is applied at the next ``reset``."""

    def __init__(self, venv) -> None:
        super().__init__(venv)
        self._next_seed: int | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._next_seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self._next_seed = seed
        observations, self.reset_infos = self.venv.reset(seed=self._next_seed, options=options)
        self._next_seed = None
        return observations


def agents_parallel_env(env_id: str, principal_policy: Any = None, observations: str = "flat", **kwargs: Any):
    """The flattened agents-only ParallelEnv (padded when the agents' observations differ in size)."""
    env = FlattenParallelEnv(
        AgentsOnlyParallelEnv(env_id, principal_policy=principal_policy, **kwargs),
        observations=observations,
        actions="raw",
    )
    shapes = {env.observation_space(p).shape for p in env.possible_agents}
    return ss.pad_observations_v0(env) if len(shapes) > 1 else env


def make_vec_env(
    env_id: str,
    num_envs: int = 1,
    principal_policy: Any = None,
    observations: str = "flat",
    monitor: bool = True,
    **kwargs: Any,
) -> VecEnv:
    """``num_envs`` copies of the agents-only game as one SB3 ``VecEnv`` (``num_envs`` x agents slots).

    Args:
        env_id: a registered id.
        num_envs: copies of the game.
        principal_policy: the principal's offers (see :class:`~contract_envs.views.AgentsOnlyParallelEnv`).
        observations: ``"flat"`` or ``"image"`` (a CNN-ready grid, for ``"CnnPolicy"``).
        monitor: wrap in ``VecMonitor``.
        **kwargs: the game's arguments.
    """
    num_envs = check_int("num_envs", num_envs, 1)
    env = agents_parallel_env(env_id, principal_policy, observations, **kwargs)
    markov = ss.pettingzoo_env_to_vec_env_v1(env)
    venv = SeededSB3VecEnv(ss.concat_vec_envs_v1(markov, num_envs, num_cpus=0, base_class="gymnasium"))
    return VecMonitor(venv) if monitor else venv


__all__ = ["SeededSB3VecEnv", "agents_parallel_env", "make_vec_env"]
