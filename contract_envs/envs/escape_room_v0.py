"""Versioned entry point of :mod:`contract_envs.envs.escape_room` (PettingZoo convention)."""

from contract_envs.envs.escape_room import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
