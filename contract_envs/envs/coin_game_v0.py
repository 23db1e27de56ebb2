"""Versioned entry point of :mod:`contract_envs.envs.coin_game` (PettingZoo convention)."""

from contract_envs.envs.coin_game import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
