"""row_blocks: how an adapter splits its training rows for joblib workers."""

import pytest

from sklearn_fairif.adapters import row_blocks


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
