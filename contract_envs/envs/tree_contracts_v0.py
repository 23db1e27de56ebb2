"""Versioned entry point of :mod:`contract_envs.envs.tree_contracts` (PettingZoo convention)."""

from contract_envs.envs.tree_contracts import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
