"""Role views of every game (see :mod:`contract_envs.adapters.views`)."""

from contract_envs.adapters.views import AgentsOnlyParallelEnv, PrincipalGymEnv

__all__ = ["AgentsOnlyParallelEnv", "PrincipalGymEnv"]
