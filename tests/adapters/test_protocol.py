"""row_blocks: how an adapter splits its training rows for joblib workers;
held_rows: the rows a sparse batch of weight changes holds."""

import numpy as np
import pytest
from scipy import sparse

from sklearn_fairif.adapters import row_blocks
from sklearn_fairif.adapters._protocol import held_rows


@pytest.mark.parametrize("granularity", [1, 3, 32])
@pytest.mark.parametrize("n_blocks", [1, 2, 5])
@pytest.mark.parametrize("n_rows", [1, 7, 100, 4097])
def test_blocks_cover_the_rows_in_order_on_batch_edges(n_rows, n_blocks,
                                                       granularity):
    blocks = row_blocks(n_rows, n_blocks, granularity)
    assert blocks[0].start == 0 and blocks[-1].stop == n_rows
    assert all(a.stop == b.start for a, b in zip(blocks, blocks[1:], strict=False))
    assert all(b.stop > b.start for b in blocks)  # none empty
    assert all(b.start % granularity == 0 for b in blocks)
    n_batches = -(-n_rows // granularity)
    assert len(blocks) == min(n_blocks, n_batches)


def test_blocks_are_balanced_in_batches():
    sizes = [b.stop - b.start for b in row_blocks(10 * 32, 3, 32)]
    assert sizes == [96, 96, 128]


def test_held_rows_are_the_nonempty_rows_of_the_dense_matrix():
    rng = np.random.default_rng(0)
    dense = rng.normal(size=(30, 4)) * (rng.random((30, 4)) < 0.1)
    rows, on_rows = held_rows(sparse.csr_array(dense))
    np.testing.assert_array_equal(rows, np.flatnonzero(np.any(dense, axis=1)))
    np.testing.assert_array_equal(on_rows, dense[rows])


def test_held_rows_of_a_non_canonical_matrix_sum_its_repeats():
    # Two stored entries at (2, 1): CSR means their sum.
    D = sparse.csr_array((np.array([1.0, 2.0, 5.0]), np.array([1, 1, 0]),
                          np.array([0, 0, 0, 2, 2, 3])), shape=(5, 2))
    rows, on_rows = held_rows(D)
    np.testing.assert_array_equal(rows, [2, 4])
    np.testing.assert_array_equal(on_rows, [[0.0, 3.0], [5.0, 0.0]])
    empty_rows, empty = held_rows(sparse.csr_array((5, 2)))
    assert empty_rows.size == 0 and empty.shape == (0, 2)
