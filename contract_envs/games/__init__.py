"""The rules of every game: one module per game, its docstring is the game's documentation page."""

import pkgutil

from contract_envs._lazy import lazy_submodules

__getattr__ = lazy_submodules(__name__, (m.name for m in pkgutil.iter_modules(__path__)))
