"""Dense matrix products on every core, without BLAS's own threads.

NumPy's BLAS runs on one thread inside snnumba's compute blocks (``snnumba/_threads.py``:
its spinning threads would fight Numba's). ``row_chunk_matmul`` gets both cores back for
``a @ b``: fixed chunks of rows of ``a`` and ``out``, one BLAS call each (``np.dot`` on one
thread), the chunks in parallel. The chunks depend only on the row count, so the result
does not depend on the thread count; OpenBLAS computes each output row the same way
whatever the other rows, so in every shape measured here it also equalled the one-call
product bit for bit (the flagship trains to the same weights).
Measured on the 2-core machine, against one BLAS call on one thread: 6400 x 200 -> 30
(the flagship's input projection) 1.13 -> 0.65 ms, 64000 x 10 -> 1000 (the big step's
readout input gradient) 30 -> 21-23 ms, 25600 x 256 -> 20 6.3 -> 3.2 ms.
"""
import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL

#: Chunks of rows per product (fixed, not per thread: the result must not depend on the
#: thread count), each of at least MIN_CHUNK_ROWS rows; smaller products take one call.
ROW_CHUNKS = 16
MIN_CHUNK_ROWS = 64


def chunk_rows(n_rows):
    """Rows per chunk for a product of ``n_rows`` rows, or 0 for one BLAS call."""
    if n_rows < 2 * MIN_CHUNK_ROWS:
        return 0
    return max(MIN_CHUNK_ROWS, -(-n_rows // ROW_CHUNKS))


@njit(**PARALLEL_KERNEL)
def row_chunk_matmul(a, b, out, rows):
    """out = a @ b in chunks of ``rows`` rows (C-contiguous arrays of one float dtype)."""
    R = a.shape[0]
    for c in prange((R + rows - 1) // rows):
        lo = c * rows
        hi = min(R, lo + rows)
        np.dot(a[lo:hi], b, out[lo:hi])
