"""Dense matrix products on every core, without BLAS's own threads.

NumPy's BLAS runs on one thread inside snnumba's compute blocks (``snnumba/_threads.py``:
its spinning threads would fight Numba's). ``row_chunk_matmul`` gets both cores back for
``a @ b``: fixed chunks of rows of ``a`` and ``out``, one BLAS call each (``np.dot`` on one
thread), the chunks in parallel. The chunks depend only on the row count, so the result
does not depend on the thread count; OpenBLAS computes each output row the same way
whatever the other rows, so in every shape measured here it also equalled the one-call
product bit for bit.
Measured on the 2-core machine, against one BLAS call on one thread: 6400 x 200 -> 30
(the flagship's input projection) 1.13 -> 0.65 ms, 64000 x 10 -> 1000 (the big step's
readout input gradient) 30 -> 21-23 ms, 25600 x 256 -> 20 6.3 -> 3.2 ms.

``row_chunk_weight_grad`` does the same for a weight gradient ``x.T @ g``, a sum over the
rows: each chunk's product goes into its own copy, and the copies are added in chunk order
(so the bits differ from one BLAS call's, but not between thread counts). Against one call
(already the faster of ``x.T @ g`` and ``(g.T @ x).T``) on one thread: 25600 x 256 -> 20
5.7 -> 4.6 ms, 25344 x 256 -> 256 38 -> 24 ms (6400 x 200 -> 30: 1.24 -> 0.66 ms, but
see MIN_WEIGHT_GRAD_MACS).
"""
import numpy as np
from numba import njit, prange

from ._compile import PARALLEL_KERNEL
from .sparse import CHUNK_COPIES_BYTES

#: Chunks of rows per product (fixed, not per thread: the result must not depend on the
#: thread count), each of at least MIN_CHUNK_ROWS rows; smaller products take one call.
ROW_CHUNKS = 16
MIN_CHUNK_ROWS = 64


def chunk_rows(n_rows):
    """Rows per chunk for a product of ``n_rows`` rows, or 0 for one BLAS call."""
    if n_rows < 2 * MIN_CHUNK_ROWS:
        return 0
    return max(MIN_CHUNK_ROWS, -(-n_rows // ROW_CHUNKS))


#: Weight gradients of fewer multiply-adds stay one BLAS call, so that small networks keep
#: the bits of one call. The flagship's input projection (6400 x 200 -> 30, 38M) gained 0-3 %
#: of an epoch in chunks (in-process alternating), for one more parallel kernel to compile in
#: its cold start; with an earlier release's event path for its small projection it gained
#: 6 % but trained seed 0 to 89.3 %, above the 84-89 % band its accuracy is held to.
MIN_WEIGHT_GRAD_MACS = 2**26


def weight_grad_chunk_rows(n_rows, n_in, n_out, itemsize):
    """Rows per chunk for a weight gradient ``[n_rows, n_in].T @ [n_rows, n_out]``, or 0 for
    one BLAS call: as ``chunk_rows`` from MIN_WEIGHT_GRAD_MACS multiply-adds on, with at
    most as many chunks as copies of the weight fit in ``sparse.CHUNK_COPIES_BYTES`` (the
    sparse weight gradient's bound)."""
    rows = chunk_rows(n_rows)
    copies = CHUNK_COPIES_BYTES // (n_in * n_out * itemsize)
    if rows == 0 or copies < 2 or n_rows * n_in * n_out < MIN_WEIGHT_GRAD_MACS:
        return 0
    return max(rows, -(-n_rows // copies))


@njit(**PARALLEL_KERNEL)
def row_chunk_matmul(a, b, out, rows):
    """out = a @ b in chunks of ``rows`` rows (C-contiguous arrays of one float dtype)."""
    R = a.shape[0]
    for c in prange((R + rows - 1) // rows):
        lo = c * rows
        hi = min(R, lo + rows)
        np.dot(a[lo:hi], b, out[lo:hi])


@njit(**PARALLEL_KERNEL)
def row_chunk_weight_grad(x, g, out, rows):
    """out = x.T @ g as the sum of ``x[c].T @ g[c]`` over chunks of ``rows`` rows, added in
    chunk order (C-contiguous arrays of one float dtype). With fewer outputs than inputs
    each chunk computes ``g[c].T @ x[c]`` (20-35 % faster on one BLAS thread), transposed in
    the sum."""
    R, I = x.shape
    J = g.shape[1]
    n = (R + rows - 1) // rows
    trans = J < I
    parts = np.empty((n, J, I) if trans else (n, I, J), x.dtype)
    for c in prange(n):
        lo = c * rows
        hi = min(R, lo + rows)
        if trans:
            np.dot(g[lo:hi].T, x[lo:hi], parts[c])
        else:
            np.dot(x[lo:hi].T, g[lo:hi], parts[c])
    for i in prange(I):
        row = out[i]
        for c in range(n):
            part = parts[c]
            for j in range(J):
                value = part[j, i] if trans else part[i, j]
                row[j] = value if c == 0 else row[j] + value


#: uint8 inputs (spikes too dense for events, ``layers.Dense``) to at most this many outputs
#: take the two kernels below instead of a float copy and BLAS: OpenBLAS runs such narrow
#: products at a quarter of its peak. 25600 x 256 -> 20 at 29 %, against the float copy and
#: BLAS on row chunks (medians of three alternating runs): forward 4.9-5.4 -> 2.0-3.1 ms,
#: weight gradient 5.0-5.7 -> 2.3-2.6 ms.
NARROW_MAX_OUTPUTS = 32
#: The sums over the inputs and rows may be reordered (``reassoc``: vectorised partial
#: sums) and fused (``contract``): the results equal the dense product to float rounding
#: (tested), and each element is summed by one thread, so not by the thread count.
_REORDERED = dict(PARALLEL_KERNEL, fastmath={"reassoc", "contract"})


@njit(**_REORDERED)
def uint8_matmul(x, w_t, out):
    """out = x @ w_t.T for uint8 ``x [R, I]`` and ``w_t [J, I]`` (the weight transposed):
    each row of x converted once, then four dot products at a time share its loads."""
    R, I = x.shape
    J = w_t.shape[0]
    for c in prange((R + MIN_CHUNK_ROWS - 1) // MIN_CHUNK_ROWS):
        row = np.empty(I, w_t.dtype)
        for r in range(c * MIN_CHUNK_ROWS, min(R, (c + 1) * MIN_CHUNK_ROWS)):
            x_r, out_r = x[r], out[r]
            for i in range(I):
                row[i] = x_r[i]
            j = 0
            while j + 4 <= J:
                w_a, w_b, w_c, w_d = w_t[j], w_t[j + 1], w_t[j + 2], w_t[j + 3]
                s_a = s_b = s_c = s_d = w_t.dtype.type(0)
                for i in range(I):
                    s_a += row[i] * w_a[i]
                    s_b += row[i] * w_b[i]
                    s_c += row[i] * w_c[i]
                    s_d += row[i] * w_d[i]
                out_r[j], out_r[j + 1], out_r[j + 2], out_r[j + 3] = s_a, s_b, s_c, s_d
                j += 4
            for j in range(j, J):
                w_j = w_t[j]
                s = w_t.dtype.type(0)
                for i in range(I):
                    s += row[i] * w_j[i]
                out_r[j] = s


def uint8_weight_grad(x, g, out):
    """out = x.T @ g for uint8 ``x [R, I]`` and ``g [R, J]``: the row chunks of
    ``chunk_rows`` (which depend only on R, not on the thread count), each into its own
    transposed copy ``[J, I]`` (four rows of x per pass over it), summed into ``out [I, J]``."""
    _uint8_weight_grad(x, g, out, chunk_rows(x.shape[0]) or x.shape[0])


@njit(**_REORDERED)
def _uint8_weight_grad(x, g, out, step):
    R, I = x.shape
    J = g.shape[1]
    n_chunks = (R + step - 1) // step
    parts = np.zeros((n_chunks, J, I), g.dtype)
    for c in prange(n_chunks):
        part = parts[c]
        rows = np.empty((4, I), g.dtype)
        r, stop = c * step, min(R, (c + 1) * step)
        while r + 4 <= stop:
            for q in range(4):
                x_q, row = x[r + q], rows[q]
                for i in range(I):
                    row[i] = x_q[i]
            row_a, row_b, row_c, row_d = rows[0], rows[1], rows[2], rows[3]
            for j in range(J):
                g_a, g_b, g_c, g_d = g[r, j], g[r + 1, j], g[r + 2, j], g[r + 3, j]
                p = part[j]
                for i in range(I):
                    p[i] += g_a * row_a[i] + g_b * row_b[i] + g_c * row_c[i] + g_d * row_d[i]
            r += 4
        for r in range(r, stop):
            x_r = x[r]
            for j in range(J):
                g_r, p = g[r, j], part[j]
                for i in range(I):
                    p[i] += g_r * x_r[i]
    for i in range(I):                     # [I, J] sums: serial, one parallel loop less to compile
        out_i = out[i]
        for j in range(J):
            s = parts[0, j, i]
            for c in range(1, n_chunks):
                s += parts[c, j, i]
            out_i[j] = s
