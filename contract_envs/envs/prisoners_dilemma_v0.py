"""Versioned entry point of :mod:`contract_envs.envs.prisoners_dilemma` (PettingZoo convention)."""

from contract_envs.envs.prisoners_dilemma import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
