"""Versioned entry point of :mod:`contract_envs.envs.tax_economy` (PettingZoo convention)."""

from contract_envs.envs.tax_economy import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
