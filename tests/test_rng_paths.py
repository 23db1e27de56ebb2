"""BatchedStreams: the Python-int path for tiny draws gives exactly the numpy path's numbers."""

import numpy as np
import pytest

from contract_envs.rng import BatchedStreams


@pytest.mark.parametrize("n", [1, 2, 5])
def test_tiny_and_large_batches_draw_identical_streams(n):
    large = BatchedStreams.from_seed(11, 40)  # 40 * n values per call: numpy path
    singles = [BatchedStreams.from_seed(11 + b, 1) for b in range(40)]  # n values per call: Python path
    for _ in range(2):
        u, bits = large.uniform(n), large.bits(n + 1)
        for b, single in enumerate(singles):
            assert np.array_equal(single.uniform(n)[0], u[b])
            assert np.array_equal(single.bits(n + 1)[0], bits[b])
    subset = np.array([3, 17])  # draws for some envs only advance those envs' streams
    drawn = large.uniform(n, subset)
    for row, b in enumerate(subset):
        assert np.array_equal(singles[b].uniform(n)[0], drawn[row])
    after = large.uniform(n)
    assert np.array_equal(after[5], singles[5].uniform(n)[0])
    assert np.array_equal(after[17], singles[17].uniform(n)[0])
