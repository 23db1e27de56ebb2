"""The core: the Game protocol (:mod:`contract_envs.core.game`, what every rules module implements)
and the stage machines that run games as batched environments (:mod:`contract_envs.core.machines`)."""

from contract_envs._lazy import lazy_submodules

__getattr__ = lazy_submodules(__name__, ("game", "machines"))
