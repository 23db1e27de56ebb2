"""Versioned entry point of :mod:`contract_envs.envs.cleanup` (PettingZoo convention)."""

from contract_envs.envs.cleanup import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
