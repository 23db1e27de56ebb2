"""Versioned entry point of :mod:`contract_envs.envs.principal_agent_mdp` (PettingZoo convention)."""

from contract_envs.envs.principal_agent_mdp import env, parallel_env, raw_env

__all__ = ["env", "parallel_env", "raw_env"]
