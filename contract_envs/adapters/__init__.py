"""Adapters: the games in the APIs of other libraries, generic over every registered game.

* :mod:`contract_envs.adapters.pettingzoo`: PettingZoo ParallelEnv and native AECEnv.
* :mod:`contract_envs.adapters.views`: role views (the agents' game with a principal policy plugged
  in; one player's problem as a Gymnasium env with the others' policies plugged in).
"""

from contract_envs._lazy import lazy_submodules

__getattr__ = lazy_submodules(__name__, ("pettingzoo", "views"))
