"""Versioned entry point of :mod:`contract_envs.envs.contract_bandit` (PettingZoo convention)."""

from contract_envs.envs.contract_bandit import env, parallel_env, principal_env, raw_env

__all__ = ["env", "parallel_env", "principal_env", "raw_env"]
