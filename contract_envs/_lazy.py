"""Submodules that load on first attribute access, so that ``import contract_envs`` stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import Any


def lazy_submodules(package: str, names: Iterable[str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports ``package.<name>`` for every name in ``names`` on first use."""
    known = frozenset(names)

    def load(name: str) -> Any:
        if name in known:
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return load
