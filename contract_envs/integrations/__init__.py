"""Integrations with learning libraries, each importing its library only when it is itself imported.

* :mod:`contract_envs.integrations.rllib`: RLlib ``MultiAgentEnv`` (turn-based), role policy mapping.
* :mod:`contract_envs.integrations.torchrl`: TorchRL environments with role groups (full game, agents only).
* :mod:`contract_envs.integrations.benchmarl`: BenchMARL ``TaskClass`` for every game, with yaml defaults.
* :mod:`contract_envs.integrations.sb3`: Stable-Baselines3 vector envs of the agents-only views (SuperSuit).

``import contract_envs`` never imports any of them: install the extra (``rllib``, ``benchmarl``, ``sb3``)
and import the module you use.
"""

from contract_envs._lazy import lazy_submodules

__getattr__ = lazy_submodules(__name__, ("benchmarl", "rllib", "sb3", "torchrl"))
