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
from ._simd import BLOCK, LANES, add_four_vectors, add_vector

#: The weight gradient splits the rows into this many fixed chunks; each adds into its own
#: copy of ``grad_w`` and the copies are summed in chunk order, so the result does not
#: depend on the thread count. Fixed, not per thread, for that reason.
ROW_CHUNKS = 16
#: Most bytes the chunks' copies of ``grad_w`` may take; larger weights list the events by
#: input. Measured on the 2-core machine: copies are 2x faster for narrow outputs (64000 x
#: 1000 -> 10 at 5 %: 11 against 24 ms), 10 % faster at 25600 x 700 -> 256 (2 %), 10 %
#: slower at 256 -> 256 (30 %); at 1000 -> 1000 their 16 copies would take 64 MB.
CHUNK_COPIES_BYTES = 16 * 2**20
#: Larger weights walk ``g`` in chunks of about this many bytes, a core's L2 cache here
#: (64000 x 1000 -> 1000 at 2 %: 512 KiB chunks 25 % slower, 2 MiB about the same).
G_CHUNK_BYTES = 2**20

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


def spike_row_indices(x, offsets, indices):
    """indices[offsets[r]:offsets[r + 1]] = the non-zero columns of x[r, :] (uint8 holding
    0/1, as ``spike_row_counts`` checked), increasing.

    Rows are read as 64-bit words, eight at a time: a multiplication gathers the eight 0/1
    bytes of a word into eight bits, so 64 columns become one 64-bit mask, and each spike
    is then found from the mask's trailing zeros. Steps go per spike and per 64 columns, not
    per column or per word (whose branch is mispredicted at any density but the lowest).
    Measured over 64000 x 1000 on the 2-core machine, alternating with the word-by-word scan
    of the release before: the same at 2 % (10 ms), 3.7 %: 14-16 -> 10-11 ms, 10 %: 27 ->
    12 ms, 30 %: 46-52 -> 18-22 ms (25600 x 700: 3.0-3.3 ms at 2 %, 8.2-8.4 -> 3.5-3.7
    ms at 10 %).
    (Little-endian machines only, where a word's first byte is its lowest; elsewhere
    byte by byte.)
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


#: ``(w * _GATHER) >> 56`` holds byte q of the word w (0 or 1) in bit q: byte q times byte
#: 7 - q of _GATHER (2^(7 - q)) lands on bit 56 + q, and no two of the 64 partial products
#: share a bit (8 q + 7 p differ for all q, p < 8), so nothing carries into the top byte.
_GATHER = np.uint64(0x0102040810204080)


@njit(inline="always", cache=True)
def _list_mask(mask, col0, indices, k):
    """List the set bits of ``mask`` (columns from col0) at indices[k:]; return k."""
    while mask != 0:
        indices[k] = col0 + np.int64(trailing_zeros(mask))
        k += 1
        mask &= mask - np.uint64(1)
    return k


@njit(inline="always", cache=True)
def _words_mask(words, j, n):
    """The 0/1 bytes of words[j:j + n] (n <= 8) as the bits of one 64-bit mask, byte q of
    word p in bit 8 p + q. (Inlined, a literal ``n`` unrolls the loop.)"""
    mask = np.uint64(0)
    for p in range(n):
        mask |= ((words[j + p] * _GATHER) >> np.uint64(56)) << np.uint64(8 * p)
    return mask


@njit(**PARALLEL_KERNEL)
def _spike_row_indices(flat, words, N, offsets, indices):
    """spike_row_indices on x flattened (``flat``), with ``words`` the same bytes as uint64
    (those of the whole words at the start of ``flat``)."""
    R = offsets.shape[0] - 1
    for r in prange(R):
        lo = r * N
        hi = lo + N
        # the bytes before the row's first whole word, its whole words, the bytes after
        w_hi = min(hi // 8, words.shape[0])
        w_lo = min((lo + 7) // 8, w_hi)
        k = _list_bytes(flat, lo, w_lo * 8, lo, indices, offsets[r])
        j = w_lo
        while j + 8 <= w_hi:  # whole groups of eight words, then the rest
            k = _list_mask(_words_mask(words, j, 8), j * 8 - lo, indices, k)
            j += 8
        k = _list_mask(_words_mask(words, j, w_hi - j), j * 8 - lo, indices, k)
        _list_bytes(flat, max(lo, w_hi * 8), hi, lo, indices, k)


@njit(inline="always", cache=True)
def add_rows(w, indices, start, stop, row):
    """``row += w[indices[k]]`` for k in [start, stop), added one after another in that order.

    Four weight rows per pass over ``row`` (read and written once per four inputs), summed
    left to right as the one-row loop does: the same bits, 1.3-1.5x faster (64000 x 1000 ->
    1000 at 2 %: 97 -> 65-71 ms; 25600 x 700 -> 256: 9.5 -> 6.7 ms; eight rows: no better).
    LLVM vectorises the loop over the row in steps of 64 float32: narrow rows take
    ``add_vector_rows``."""
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


@njit(inline="always", cache=True)
def pack_blocks(w, packed, start):
    """``w [I, J]`` into the flat ``packed`` from ``start``, as ``[ceil(J / BLOCK), I,
    BLOCK]``: its columns in blocks of ``_simd.BLOCK``, each block's rows contiguous, zeros
    past column J (the operand of ``_simd.add_block_rows``)."""
    I, J = w.shape
    for block in range((J + BLOCK - 1) // BLOCK):
        j0 = block * BLOCK
        n = min(BLOCK, J - j0)
        for i in range(I):
            at = start + (block * I + i) * BLOCK
            w_i = w[i]
            for k in range(n):
                packed[at + k] = w_i[j0 + k]
            for k in range(n, BLOCK):
                packed[at + k] = 0


@njit(inline="always", cache=True)
def add_vector_rows(w, indices, start, stop, row):
    """``add_rows`` (the same sums, the same bits) for a ``row`` of whole vectors
    (``len(row) % _simd.LANES == 0``) and C-contiguous ``w`` and ``row``: a vector of the
    row at a time (``_simd.py``), at any width."""
    n = w.shape[1]
    k = start
    while k + 4 <= stop:
        a, b, c, d = indices[k] * n, indices[k + 1] * n, indices[k + 2] * n, indices[k + 3] * n
        for q in range(0, row.shape[0], LANES):
            add_four_vectors(row, q, w, a + q, b + q, c + q, d + q)
        k += 4
    for k in range(k, stop):
        for q in range(0, row.shape[0], LANES):
            add_vector(row, q, w, indices[k] * n + q)


#: Rows of fewer outputs than this are summed in rows padded with zeros to whole vectors
#: (``_simd.LANES``) by ``add_vector_rows``; wider ones by ``add_rows``, which LLVM
#: vectorises itself (alternating in one process: the same times at 256 and 1000 outputs).
PAD_MAX_OUTPUTS = 64
#: Rows of ``out`` per parallel job of a padded ``spike_matmul`` (each job has one padded row).
MATMUL_JOB_ROWS = 64


@njit(inline="always", cache=True)
def padded_width(J):
    """The width of the padded rows the event kernels sum ``J`` outputs in, or 0 for
    ``J >= PAD_MAX_OUTPUTS`` (rows as they are)."""
    return J + (-J) % LANES if J < PAD_MAX_OUTPUTS else 0


def spike_matmul(offsets, indices, w, bias, out):
    """out[r, :] = sum of w[i, :] over the active inputs i of row r, plus bias.

    Narrow rows are summed in rows padded to whole vectors (``padded_width``). Against the
    release before (narrow rows one value at a time), alternating in one process on the
    2-core machine: 64000 x 1000 -> 10 at 5 %: 6.9-7.9 -> 3.3 ms, 6400 x 200 -> 30 at 22 %:
    0.8-0.9 -> 0.3 ms, 25600 x 256 -> 20 at 10 %: 1.5-1.6 -> 0.8-0.9 ms."""
    if out.shape[1] >= PAD_MAX_OUTPUTS:
        _spike_matmul_rows(offsets, indices, w, bias, out)
    else:
        _spike_matmul_padded(offsets, indices, w, bias, out)


@njit(**PARALLEL_KERNEL)
def _spike_matmul_rows(offsets, indices, w, bias, out):
    """spike_matmul straight into the rows of ``out``."""
    R, J = out.shape
    for r in prange(R):
        # row views vectorise better than 2-D indexing (1.8x at 256 outputs)
        row = out[r]
        for j in range(J):
            row[j] = 0
        add_rows(w, indices, offsets[r], offsets[r + 1], row)
        for j in range(J):
            row[j] += bias[j]


@njit(**PARALLEL_KERNEL)
def _spike_matmul_padded(offsets, indices, w, bias, out):
    """spike_matmul in a padded row per job of MATMUL_JOB_ROWS rows, copied into ``out``."""
    R, J = out.shape
    width = padded_width(J)
    w_rows = np.zeros((w.shape[0], width), w.dtype)
    for i in range(w.shape[0]):  # loops, not slices: those compile slowly
        for j in range(J):
            w_rows[i, j] = w[i, j]
    for job in prange((R + MATMUL_JOB_ROWS - 1) // MATMUL_JOB_ROWS):
        row = np.empty(width, out.dtype)
        for r in range(job * MATMUL_JOB_ROWS, min(R, (job + 1) * MATMUL_JOB_ROWS)):
            for j in range(width):
                row[j] = 0
            add_vector_rows(w_rows, indices, offsets[r], offsets[r + 1], row)
            out_row = out[r]
            for j in range(J):
                out_row[j] = row[j] + bias[j]


def spike_weight_grad(offsets, indices, g, grad_w):
    """grad_w[i, :] += g[r, :] for every active input i of every row r.

    Small weights: ROW_CHUNKS fixed chunks of rows, each into its own copy of grad_w.
    Large ones: the events listed by input, and each Numba thread owns one block of inputs
    (no two write one row of grad_w). (The thread count is read here: a compiled kernel that
    reads it cannot be cached.)
    """
    if ROW_CHUNKS * grad_w.size * grad_w.itemsize <= CHUNK_COPIES_BYTES:
        _row_chunk_weight_grad(offsets, indices, g, grad_w, min(ROW_CHUNKS, g.shape[0]))
    else:
        input_offsets, rows = _events_by_input(offsets, indices, grad_w.shape[0], min(ROW_CHUNKS, g.shape[0]))
        chunk_rows = max(1, G_CHUNK_BYTES // (g.shape[1] * g.itemsize))
        _input_block_weight_grad(input_offsets, rows, g, grad_w, chunk_rows, numba.get_num_threads())


@njit(**PARALLEL_KERNEL)
def _row_chunk_weight_grad(offsets, indices, g, grad_w, n_chunks):
    """spike_weight_grad over ``n_chunks`` chunks of rows, each into a copy of grad_w; the
    copies are added into grad_w in chunk order. (The copies are stacked in one 2-D array:
    a 3-D one took 1.7x as long to compile.) Narrow rows go through copies and a row of
    ``g`` padded to whole vectors (``padded_width``): against the release before, as for
    ``spike_matmul``, 64000 x 1000 -> 10 at 5 %: 9.2-10.7 -> 5.6-5.8 ms, 6400 x 200 -> 30 at
    22 %: 1.0-1.5 -> 0.6 ms, 25600 x 256 -> 20 at 10 %: 2.1-2.8 -> 1.3-1.6 ms."""
    R, J = g.shape
    I = grad_w.shape[0]
    width = padded_width(J)
    copies = np.zeros((n_chunks * I, max(width, J)), grad_w.dtype)
    step = (R + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        padded = np.zeros(width, g.dtype)
        for r in range(c * step, min(R, (c + 1) * step)):
            g_row = g[r]
            if width:
                for j in range(J):
                    padded[j] = g_row[j]
                for k in range(offsets[r], offsets[r + 1]):
                    w_row = copies[c * I + indices[k]]
                    for q in range(0, width, LANES):
                        add_vector(w_row, q, padded, q)
            else:
                for k in range(offsets[r], offsets[r + 1]):
                    w_row = copies[c * I + indices[k]]
                    for j in range(J):
                        w_row[j] += g_row[j]
    for i in prange(I):
        add_chunk_copies(copies, n_chunks, i, grad_w[i])


@njit(inline="always", cache=True)
def add_chunk_copies(copies, n_chunks, i, row):
    """``row += copies[c * I + i]`` for c in chunk order: row i of a weight gradient summed
    from its ``n_chunks`` chunks' copies, stacked ``[n_chunks * I, J]``."""
    I = copies.shape[0] // n_chunks
    for c in range(n_chunks):
        part = copies[c * I + i]
        for j in range(row.shape[0]):
            row[j] += part[j]


@njit(**PARALLEL_KERNEL)
def _events_by_input(offsets, indices, n_inputs, n_chunks):
    """The events listed by input instead of by row (compressed sparse columns): the rows
    in which input i fired are ``rows[input_offsets[i]:input_offsets[i + 1]]``, increasing.
    ``n_chunks`` fixed chunks of rows count and then place their own events."""
    R = offsets.shape[0] - 1
    step = (R + n_chunks - 1) // n_chunks
    counts = np.zeros((n_chunks, n_inputs), np.int64)
    for c in prange(n_chunks):
        for k in range(offsets[min(R, c * step)], offsets[min(R, (c + 1) * step)]):
            counts[c, indices[k]] += 1
    # chunk c's events of input i go after those of the chunks before it: rows stay increasing
    input_offsets = np.empty(n_inputs + 1, np.int64)
    total = 0
    for i in range(n_inputs):
        input_offsets[i] = total
        for c in range(n_chunks):
            n = counts[c, i]
            counts[c, i] = total
            total += n
    input_offsets[n_inputs] = total
    rows = np.empty(total, np.int64)
    for c in prange(n_chunks):
        place = counts[c]
        for r in range(min(R, c * step), min(R, (c + 1) * step)):
            for k in range(offsets[r], offsets[r + 1]):
                i = indices[k]
                rows[place[i]] = r
                place[i] += 1
    return input_offsets, rows


@njit(**PARALLEL_KERNEL)
def _input_block_weight_grad(input_offsets, rows, g, grad_w, chunk_rows, n_blocks):
    """spike_weight_grad from the events by input, on ``n_blocks`` blocks of inputs with about
    as many events each, one per iteration.

    Each block walks g in chunks of ``chunk_rows`` rows (about G_CHUNK_BYTES, so a chunk
    stays in the core's cache while the block's inputs add their rows of it) and adds into
    grad_w[i] with add_rows: one pass over grad_w[i] per four events, not one per event as
    a walk over the rows would take. Each grad_w[i] still adds its rows in increasing order.
    """
    R = g.shape[0]
    n_inputs = grad_w.shape[0]
    total = input_offsets[n_inputs]
    for blk in prange(n_blocks):
        # the inputs whose events start in this block's share; those past the last bound have none
        i0 = np.searchsorted(input_offsets, blk * total // n_blocks)
        i1 = np.searchsorted(input_offsets, (blk + 1) * total // n_blocks)
        cursor = input_offsets[i0:i1].copy()
        for limit in range(chunk_rows, R + chunk_rows, chunk_rows):
            for i in range(i0, i1):
                start = cursor[i - i0]
                stop = start
                while stop < input_offsets[i + 1] and rows[stop] < limit:
                    stop += 1
                add_rows(g, rows, start, stop, grad_w[i])
                cursor[i - i0] = stop
