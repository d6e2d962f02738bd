"""Event-driven projection of spikes: the rows of ``W`` of the inputs that fired.

Spikes ``x[r, i]`` (rows ``r`` over time x batch, ``x`` uint8 holding 0/1) are listed row by
row in compressed sparse rows (CSR): the active inputs of row ``r`` are
``indices[offsets[r]:offsets[r + 1]]``, in increasing order. Then

    out[r, j] = sum_{k = offsets[r]}^{offsets[r + 1] - 1} w[indices[k], j] + bias[j]
    grad_w[i, j] += sum_{r, k: indices[k] = i} g[r, j]

which equal ``x @ w + bias`` and ``x.T @ g`` (added), with one addition per active input
and output instead of one multiply-add per input and output. Each sum runs in increasing
``k`` (row, then input) whatever the number of threads, so a parallel result equals the
serial one exactly.

Building the list takes two kernels and a prefix sum between them (the caller's):
``spike_row_counts`` counts the spikes of each row, ``offsets = [0, cumsum(counts)]``,
``spike_row_indices`` writes the indices.
"""
import sys

import numba
import numpy as np
from numba import njit, prange
from numba.cpython.unsafe.numbers import trailing_zeros

from ._compile import PARALLEL_KERNEL

#: The weight gradient splits the rows into this many fixed chunks; each adds into its own
#: copy of ``grad_w`` and the copies are summed in chunk order, so the result does not
#: depend on the thread count. Fixed, not per thread, for that reason.
ROW_CHUNKS = 16
#: Most bytes the chunks' copies of ``grad_w`` may take; larger weights use column blocks.
#: Measured on the 2-core machine (benchmarks/bench_projection.py sizes): copies beat
#: column blocks 3-5x for narrow outputs (1000 -> 10: 83 -> 23 ms; 200 -> 30: 6.5 -> 1.7
#: ms) and 3x at 256 -> 256, and tie at 1000 -> 1000, whose 16 copies would take 64 MB.
CHUNK_COPIES_BYTES = 16 * 2**20

@njit(**PARALLEL_KERNEL)
def spike_row_counts(x, counts):
    """counts[r] = the number of non-zero x[r, :], or -1 where a row holds a value other
    than 0 and 1 (not spikes: the caller takes the dense product instead)."""
    R, N = x.shape
    for r in prange(R):
        row = x[r]
        c = 0
        largest = 0
        # a plain sum and max over a row view vectorise (3x faster than counting tests)
        for i in range(N):
            v = row[i]
            c += np.int64(v)
            largest = max(largest, v)
        counts[r] = c if largest <= 1 else -1


#: A row with more than 1 / DENSE_ROW of its entries set is listed without branches (a
#: spare slot at the end of ``indices`` needed); sparser rows are read 8 bytes at a time.
#: Measured over 64000 x 1000 (bench_projection.py's shapes): the word scan is faster up to
#: 20 % density (2 %: 27 -> 9 ms, 5 %: 36 -> 18 ms, 20 %: 48 -> 40 ms), the branch-free
#: listing from 28 % (29 against 39 ms).
DENSE_ROW = 4


def spike_row_indices(x, offsets, indices):
    """indices[offsets[r]:offsets[r + 1]] = the non-zero columns of x[r, :] (uint8 holding
    0/1, as ``spike_row_counts`` checked), increasing.

    ``indices`` may have one spare slot after ``offsets[R]``; dense rows then write every
    column and advance by the 0/1 spike, sending the writes after their last spike to the
    spare slot (the branch on each spike is mispredicted about as often as it is taken).
    Sparse rows are read as 64-bit words, and each set byte of a word found from its
    trailing zeros: one step per spike and per word, not per column. (Little-endian
    machines only, where a word's first byte is its lowest; elsewhere byte by byte.)
    """
    flat = np.ascontiguousarray(x).reshape(-1)
    words = flat[: flat.size // 8 * 8] if sys.byteorder == "little" else flat[:0]
    _spike_row_indices(flat, words.view(np.uint64), x.shape[1], offsets, indices)


@njit(inline="always", cache=True)
def _list_bytes(flat, lo, hi, row_start, indices, k):
    """List the non-zero bytes flat[lo:hi] (columns from row_start) at indices[k:]; return k."""
    for i in range(lo, hi):
        if flat[i] != 0:
            indices[k] = i - row_start
            k += 1
    return k


@njit(**PARALLEL_KERNEL)
def _spike_row_indices(flat, words, N, offsets, indices):
    """spike_row_indices on x flattened (``flat``), with ``words`` the same bytes as uint64
    (those of the whole words at the start of ``flat``)."""
    R = offsets.shape[0] - 1
    spare = indices.shape[0] - 1
    # rows with more spikes than this are dense (never, without the spare slot)
    dense_row = N // DENSE_ROW if spare >= offsets[R] else N
    for r in prange(R):
        k = offsets[r]
        end = offsets[r + 1]
        lo = r * N
        hi = lo + N
        if end - k > dense_row:
            for i in range(lo, hi):
                indices[k if k < end else spare] = i - lo
                k += flat[i]
        else:
            # the bytes before the row's first whole word, its whole words, the bytes after
            w_hi = min(hi // 8, words.shape[0])
            w_lo = min((lo + 7) // 8, w_hi)
            k = _list_bytes(flat, lo, w_lo * 8, lo, indices, k)
            for j in range(w_lo, w_hi):
                w = words[j]
                while w != 0:  # a set byte holds 1: clearing the lowest set bit clears the byte
                    indices[k] = j * 8 + (np.int64(trailing_zeros(w)) >> 3) - lo
                    k += 1
                    w &= w - np.uint64(1)
            _list_bytes(flat, max(lo, w_hi * 8), hi, lo, indices, k)


@njit(inline="always", cache=True)
def add_rows(w, indices, start, stop, row):
    """``row += w[indices[k]]`` for k in [start, stop), added one after another in that order.

    Four weight rows per pass over ``row`` (read and written once per four inputs), summed
    left to right as the one-row loop does: the same bits, 1.3-1.5x faster (64000 x 1000 ->
    1000 at 2 %: 97 -> 65-71 ms; 25600 x 700 -> 256: 9.5 -> 6.7 ms; eight rows: no better)."""
    J = row.shape[0]
    k = start
    while k + 4 <= stop:
        w_a, w_b, w_c, w_d = w[indices[k]], w[indices[k + 1]], w[indices[k + 2]], w[indices[k + 3]]
        for j in range(J):
            row[j] = (((row[j] + w_a[j]) + w_b[j]) + w_c[j]) + w_d[j]
        k += 4
    for k in range(k, stop):
        w_row = w[indices[k]]
        for j in range(J):
            row[j] += w_row[j]


@njit(**PARALLEL_KERNEL)
def spike_matmul(offsets, indices, w, bias, out):
    """out[r, :] = sum of w[i, :] over the active inputs i of row r, plus bias."""
    R, J = out.shape
    for r in prange(R):
        # row views vectorise better than 2-D indexing (1.8x at 256 outputs)
        row = out[r]
        for j in range(J):
            row[j] = 0
        add_rows(w, indices, offsets[r], offsets[r + 1], row)
        for j in range(J):
            row[j] += bias[j]


def spike_weight_grad(offsets, indices, g, grad_w):
    """grad_w[i, :] += g[r, :] for every active input i of every row r.

    Small weights: ROW_CHUNKS fixed chunks of rows, each into its own copy of grad_w.
    Large ones: each Numba thread owns one block of output columns (no two write one
    element) and walks every row's list. (The thread count is read here: a compiled
    kernel that reads it cannot be cached.)
    """
    if ROW_CHUNKS * grad_w.size * grad_w.itemsize <= CHUNK_COPIES_BYTES:
        _row_chunk_weight_grad(offsets, indices, g, grad_w, min(ROW_CHUNKS, g.shape[0]))
    else:
        _column_block_weight_grad(offsets, indices, g, grad_w, min(g.shape[1], numba.get_num_threads()))


@njit(**PARALLEL_KERNEL)
def _row_chunk_weight_grad(offsets, indices, g, grad_w, n_chunks):
    """spike_weight_grad over ``n_chunks`` chunks of rows, each into a copy of grad_w; the
    copies are added into grad_w in chunk order. (The copies are stacked in one 2-D array:
    a 3-D one took 1.7x as long to compile.)"""
    R, J = g.shape
    I = grad_w.shape[0]
    copies = np.zeros((n_chunks * I, J), grad_w.dtype)
    step = (R + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        for r in range(c * step, min(R, (c + 1) * step)):
            g_row = g[r]
            for k in range(offsets[r], offsets[r + 1]):
                w_row = copies[c * I + indices[k]]
                for j in range(J):
                    w_row[j] += g_row[j]
    for i in prange(I):
        w_row = grad_w[i]
        for c in range(n_chunks):
            c_row = copies[c * I + i]
            for j in range(J):
                w_row[j] += c_row[j]


@njit(**PARALLEL_KERNEL)
def _column_block_weight_grad(offsets, indices, g, grad_w, n_blocks):
    """spike_weight_grad on ``n_blocks`` blocks of output columns, one per iteration.

    Narrower blocks than that are slower (measured: 64 columns 5x slower than 1000): each
    block pays the walk over the lists again.
    """
    R, J = g.shape
    width = (J + n_blocks - 1) // n_blocks
    for blk in prange(n_blocks):
        j0 = blk * width
        j1 = min(J, j0 + width)
        for r in range(R):
            g_row = g[r, j0:j1]
            for k in range(offsets[r], offsets[r + 1]):
                # row views: LLVM vectorizes this loop (2-D indexing here ran 6x slower)
                w_row = grad_w[indices[k], j0:j1]
                for j in range(j1 - j0):
                    w_row[j] += g_row[j]
