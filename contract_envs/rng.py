"""Per-environment random streams that stay identical whether an env runs alone or inside a batch.

numpy's ``Generator`` draws one stream for a whole array, so environment ``b`` of a batch would see
different numbers from the same environment run alone. Here every environment owns a counter-based
stream (SplitMix64 of ``key + counter``): a batch of ``B`` envs seeded ``s`` is exactly ``B`` single
envs seeded ``s, s + 1, ..., s + B - 1`` (Gymnasium's vector seeding convention), and all draws
stay vectorised.
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = np.uint64(30), np.uint64(27), np.uint64(31), np.uint64(11)
_TO_UNIT = float(2.0**-53)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser over a uint64 array (array arithmetic wraps modulo 2**64 silently)."""
    z = (x ^ (x >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def seed_keys(seed: int | None, num_envs: int) -> np.ndarray:
    """Stream keys for ``num_envs`` envs seeded ``seed, seed + 1, ...`` (``None``: fresh entropy)."""
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1, np.uint64)[0] >> np.uint64(1))
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int or None, got {seed!r}")
    seeds = np.uint64(seed) + np.arange(num_envs, dtype=np.uint64)
    return _splitmix64(seeds * _GOLDEN + _GOLDEN)


_MASK64 = (1 << 64) - 1
_GOLDEN_INT = int(_GOLDEN)
_BLOCK = 256  # values drawn ahead for a single environment
_SMALL_DRAW = 16  # at most this many values per call: Python ints beat numpy's per-call overhead


def _splitmix64_inplace(z: np.ndarray) -> np.ndarray:
    """:func:`_splitmix64` overwriting ``z`` (fewer temporaries on the hot path)."""
    z ^= z >> _S30
    z *= _MIX1
    z ^= z >> _S27
    z *= _MIX2
    z ^= z >> _S31
    return z


def _small_bits(keys: np.ndarray, counters: np.ndarray, n: int) -> list[list[int]]:
    """The draws of :meth:`BatchedStreams.bits` in Python ints (identical values), for tiny batches."""
    golden, out = int(_GOLDEN), []
    for key, counter in zip(keys.tolist(), counters.tolist(), strict=True):
        row = []
        for j in range(n):
            z = (key + (counter + j) * golden) & _MASK64
            z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
            z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
            row.append(z ^ (z >> 31))
        out.append(row)
    return out


class BatchedStreams:
    """One independent random stream per environment of a batch.

    Each draw consumes a fixed number of values from the streams of the environments it is made
    for, so an environment's numbers never depend on what the other environments of the batch did.
    """

    def __init__(self, keys: np.ndarray) -> None:
        self.keys = np.asarray(keys, dtype=np.uint64).copy()
        self.counters = np.zeros(len(self.keys), dtype=np.uint64)
        self._offsets: dict[int, np.ndarray] = {}
        # single-env draws come from a block of the next _BLOCK values of the stream (key, first
        # counter, values): a cache of a pure function of (key, counter), so state stays the counters
        self._block: tuple[int, int, np.ndarray] = (-1, 0, np.empty(0))

    @classmethod
    def from_seed(cls, seed: int | None, num_envs: int) -> BatchedStreams:
        return cls(seed_keys(seed, num_envs))

    @staticmethod
    def _block_values(key: int, counter: int) -> np.ndarray:
        """The uniforms of counters ``counter .. counter + _BLOCK - 1`` of the stream ``key``."""
        z = (np.arange(_BLOCK, dtype=np.uint64) + np.uint64(counter)) * _GOLDEN + np.uint64(key)
        bits = _splitmix64_inplace(z)
        bits >>= _S11
        return bits.astype(np.float64) * _TO_UNIT

    def reseed(self, seed: int | None) -> None:
        self.keys = seed_keys(seed, len(self.keys))
        self.counters[:] = 0

    def bits(self, n: int, env_idx: np.ndarray | None = None) -> np.ndarray:
        """``n`` raw uint64 draws per selected env, shape ``[len(env_idx), n]``."""
        keys = self.keys if env_idx is None else self.keys[env_idx]
        counters = self.counters if env_idx is None else self.counters[env_idx]
        if len(keys) * n <= _SMALL_DRAW:
            out = np.array(_small_bits(keys, counters, n), dtype=np.uint64).reshape(len(keys), n)
        else:  # key + (counter + j) * golden, built draw-major ([n, E], contiguous rows), then mixed in place
            offsets = self._offsets.get(n)
            if offsets is None:
                offsets = self._offsets[n] = np.arange(n, dtype=np.uint64)[:, None] * _GOLDEN
            start = counters * _GOLDEN
            start += keys
            out = _splitmix64_inplace(offsets + start).T
        self._advance(n, env_idx)
        return out

    def _advance(self, n: int, env_idx: np.ndarray | None) -> None:
        if env_idx is None:
            self.counters += np.uint64(n)
        else:
            self.counters[env_idx] += np.uint64(n)

    def uniform(self, n: int, env_idx: np.ndarray | None = None) -> np.ndarray:
        """``n`` floats in ``[0, 1)`` per selected env, shape ``[len(env_idx), n]``."""
        size = len(self.keys) if env_idx is None else len(env_idx)
        if size == 1 and env_idx is None and n <= _BLOCK:  # one env (the adapters): from a block drawn ahead
            key, counter = self.keys.item(0), self.counters.item(0)
            block = self._block
            offset = counter - block[1]
            if block[0] != key or not 0 <= offset <= _BLOCK - n:
                block = self._block = (key, counter, self._block_values(key, counter))
                offset = 0
            self.counters[0] = counter + n
            return block[2][offset : offset + n].reshape(1, n).copy()
        if size * n <= _SMALL_DRAW:  # tiny batches: Python ints, same numbers
            keys = self.keys if env_idx is None else self.keys[env_idx]
            counters = self.counters if env_idx is None else self.counters[env_idx]
            rows = _small_bits(keys, counters, n)
            self._advance(n, env_idx)
            return np.array([[(v >> 11) * _TO_UNIT for v in row] for row in rows]).reshape(size, n)
        bits = self.bits(n, env_idx)
        bits >>= _S11
        out = bits.astype(np.float64)
        out *= _TO_UNIT
        return out

    def integers(self, high, n: int, env_idx: np.ndarray | None = None) -> np.ndarray:
        """``n`` ints in ``[0, high)`` per selected env; ``high`` is a scalar or broadcasts to ``[E, n]``."""
        return np.floor(self.uniform(n, env_idx) * high).astype(np.int64)

    def normal(self, n: int, env_idx: np.ndarray | None = None) -> np.ndarray:
        """``n`` standard normal draws per selected env (Box-Muller; consumes ``2n`` values)."""
        u = self.uniform(2 * n, env_idx)
        u1, u2 = 1.0 - u[:, :n], u[:, n:]
        return np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)

    def categorical(self, probs: np.ndarray, env_idx: np.ndarray | None = None) -> np.ndarray:
        """One draw per row of ``probs`` (``[E, K]``, rows sum to 1): inverse-CDF sampling."""
        return categorical_from_uniform(probs, self.uniform(1, env_idx)[:, 0])


def categorical_from_uniform(probs: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF draw per row of ``probs`` (``[E, K]``) from uniforms ``u`` (``[E]``)."""
    idx = (u[:, None] > np.cumsum(probs, axis=-1)).sum(axis=-1)
    return np.minimum(idx, probs.shape[-1] - 1)
