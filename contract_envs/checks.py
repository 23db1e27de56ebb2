"""Argument checks shared by every game, view and adapter: nothing is accepted silently or late.

Each check returns the value in its canonical Python type or raises ``ValueError`` naming the
argument (prefixed by its owner, e.g. ``escape_room: door_reward``), what was given and the allowed
range. Integers must be integral (``2.7`` agents is an error, ``3.0`` is 3); reals must be finite
real numbers (no NaN, inf, complex or strings); seeds are ints in ``[0, 2**64)``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

import numpy as np

SEED_LIMIT = 2**64


def _label(name: str, owner: str | None) -> str:
    return f"{owner}: {name}" if owner else name


def _interval(low: float | None, high: float | None, low_open: bool = False, high_open: bool = False) -> str:
    left = "(" if low_open or low is None else "["
    right = ")" if high_open or high is None else "]"
    return f"{left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None, owner: str | None = None) -> int:
    """``value`` as an int in ``[low, high]`` (bounds inclusive; ``None``: unbounded)."""
    where = _interval(low, high)
    ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if not ok and isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        ok = True
    if not ok:
        raise ValueError(f"{_label(name, owner)} must be an integer in {where}, got {value!r}")
    out = int(value)
    if (low is not None and out < low) or (high is not None and out > high):
        raise ValueError(f"{_label(name, owner)} must be an integer in {where}, got {value!r}")
    return out


def check_optional_int(
    name: str, value: Any, low: int | None = None, high: int | None = None, owner: str | None = None
) -> int | None:
    """``None``, or :func:`check_int`."""
    return None if value is None else check_int(name, value, low, high, owner)


def check_real(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    owner: str | None = None,
) -> float:
    """``value`` as a finite float in the interval (``low_open``/``high_open``: exclude that end)."""
    where = _interval(low, high, low_open, high_open)
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not real or not np.isfinite(float(value)):
        raise ValueError(f"{_label(name, owner)} must be a finite real number in {where}, got {value!r}")
    out = float(value)
    too_low = low is not None and (out <= low if low_open else out < low)
    too_high = high is not None and (out >= high if high_open else out > high)
    if too_low or too_high:
        raise ValueError(f"{_label(name, owner)} must be a finite real number in {where}, got {value!r}")
    return out


def check_choice(name: str, value: Any, choices: Iterable[Any], owner: str | None = None) -> Any:
    """``value`` if it is one of ``choices``."""
    choices = list(choices)
    if not any(value is c or (type(value) is type(c) and value == c) for c in choices):
        raise ValueError(f"{_label(name, owner)} must be one of {choices}, got {value!r}")
    return value


def check_seed(seed: Any, name: str = "seed") -> int | None:
    """``None`` or an int in ``[0, 2**64)`` (what the counter-based streams accept)."""
    if seed is None:
        return None
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or not (0 <= int(seed) < SEED_LIMIT):
        raise ValueError(f"{name} must be None or an int in [0, 2**64), got {seed!r}")
    return int(seed)


def real_array(name: str, value: Any, ndim: int | None = None, owner: str | None = None) -> np.ndarray:
    """``value`` as a finite float64 array (rejects complex, object, string and boolean arrays)."""
    label = _label(name, owner)
    try:
        arr = np.asarray(value)
    except Exception as err:  # ragged nested sequences
        raise ValueError(f"{label} must be an array of finite real numbers, got {value!r} ({err})") from None
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{label} must be an array of finite real numbers, got dtype {arr.dtype} ({np.array2string(arr)[:80]})"
        )
    arr = arr.astype(np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{label} must have {ndim} dimension(s), got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{label} contains NaN or inf")
    return arr


def bool_array(name: str, value: Any, owner: str | None = None) -> np.ndarray:
    """``value`` as a boolean array (a real 0/1 array is not accepted: say what you mean)."""
    arr = np.asarray(value)
    if arr.dtype != bool:
        raise ValueError(f"{_label(name, owner)} must be a bool array, got dtype {arr.dtype}")
    return arr


__all__ = [
    "SEED_LIMIT",
    "bool_array",
    "check_choice",
    "check_int",
    "check_optional_int",
    "check_real",
    "check_seed",
    "real_array",
]
