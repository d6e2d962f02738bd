"""Additions of whole vectors of ``LANES`` floats, for the event kernels' row additions.

An event kernel adds the weight rows of the inputs that fired into an output row. Written
as a loop over the row, LLVM vectorises it only in steps of four vectors (64 float32) and
behind run-time checks that the rows do not overlap; shorter rows, and each row's last
partial step, run one value at a time: events into a row of 32 values took 4.3 ns each
on one core of the 2-core machine (a scratch loop), a projection 64000 x 1000 -> 10 at 5 %
5-8 ms.

These intrinsics load, add and store one vector of ``LANES`` values at given offsets, so
the vector instructions are there at any width: the event kernels pad rows of fewer than
64 outputs to whole vectors and add them with these (``sparse.add_vector_rows``).
``add_block_rows`` adds many rows of a block of BLOCK columns into one, the running sums in
registers (the recurrent layer's sums). Each element is still added in the order of the
loop they replace, so the results keep their bits.
"""
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: Values per vector: one 512-bit register of float32, two of float64.
LANES = 16
#: Columns per block of ``add_block_rows``: two vectors. A block of a 256-row weight is
#: 32 KB in float32, one core's L1 cache.
BLOCK = 2 * LANES


def _vector_operands(dst, src):
    """Whether ``dst`` and ``src`` are C-contiguous float arrays of one dtype (the
    intrinsics address their elements by flat offsets)."""
    return (isinstance(dst, types.Array) and isinstance(src, types.Array) and dst.layout == "C"
            and src.layout == "C" and dst.dtype == src.dtype and isinstance(dst.dtype, types.Float))


def _vector_pointer(context, builder, array_type, array, offset):
    """A pointer to the vector of LANES elements of ``array`` from flat element ``offset``."""
    data = context.make_array(array_type)(context, builder, array).data
    vector = ir.VectorType(context.get_data_type(array_type.dtype), LANES)
    return builder.bitcast(builder.gep(data, [offset]), vector.as_pointer())


def _typed_add(dst, src, offsets):
    """The signature and code of ``dst[d:d + LANES] = ((dst[d:d + LANES] + src[s_1:s_1 + LANES])
    + ...) + src[s_n:s_n + LANES]`` (flat offsets ``d, s_1, ..., s_n``), or None for other
    argument types."""
    if not _vector_operands(dst, src) or not all(isinstance(o, types.Integer) for o in offsets):
        return None

    def codegen(context, builder, signature, args):
        align = signature.args[0].dtype.bitwidth // 8
        arg_offsets = [context.cast(builder, args[k], signature.args[k], types.intp)
                       for k in range(len(args)) if k not in (0, 2)]
        target = _vector_pointer(context, builder, signature.args[0], args[0], arg_offsets[0])
        total = builder.load(target, align=align)
        for offset in arg_offsets[1:]:
            source = _vector_pointer(context, builder, signature.args[2], args[2], offset)
            total = builder.fadd(total, builder.load(source, align=align))
        builder.store(total, target, align=align)
        return context.get_dummy_value()
    return types.none(dst, offsets[0], src, *offsets[1:]), codegen


@intrinsic
def add_vector(typingctx, dst, d, src, s):
    """``dst[d:d + LANES] += src[s:s + LANES]`` on the flat (C-order) elements."""
    return _typed_add(dst, src, (d, s))


@intrinsic
def add_four_vectors(typingctx, dst, d, src, s_a, s_b, s_c, s_d):
    """``dst[d:d + LANES] = (((dst[d:d + LANES] + src[s_a:s_a + LANES]) + src[s_b:...]) +
    src[s_c:...]) + src[s_d:...]`` on the flat (C-order) elements."""
    return _typed_add(dst, src, (d, s_a, s_b, s_c, s_d))


@intrinsic
def add_block_rows(typingctx, dst, d, src, base, indices, start, stop):
    """``dst[d:d + BLOCK] += src[base + i * BLOCK:base + (i + 1) * BLOCK]`` for ``i =
    indices[k]``, k in [start, stop), one after another in that order (flat, C-order
    offsets): rows of ``src`` stored in blocks of BLOCK columns (``sparse.pack_blocks``).

    The running sums stay in registers, loaded and stored once. A block of a small weight
    stays in L1 while the caller adds it into many rows, where whole rows came from L2:
    25600 rows of a 256 x 256 weight at 33 % spikes, in groups of 32-128 rows a block at a
    time, took 10-11 ms against 18-20 ms for ``sparse.add_rows`` (a scratch loop), with the
    same bits."""
    if not (_vector_operands(dst, src) and isinstance(indices, types.Array)
            and all(isinstance(o, types.Integer) for o in (d, base, start, stop))):
        return None

    def codegen(context, builder, signature, args):
        dst_t, _, src_t, _, indices_t, _, _ = signature.args
        d, base, start, stop = (context.cast(builder, args[k], signature.args[k], types.intp) for k in (1, 3, 5, 6))
        align = dst_t.dtype.bitwidth // 8
        vector = ir.VectorType(context.get_data_type(dst_t.dtype), LANES)
        targets = [_vector_pointer(context, builder, dst_t, args[0], builder.add(d, ir.Constant(d.type, q)))
                   for q in range(0, BLOCK, LANES)]
        sums = [cgutils.alloca_once(builder, vector) for _ in targets]
        for target, total in zip(targets, sums):
            builder.store(builder.load(target, align=align), total)
        index_data = context.make_array(indices_t)(context, builder, args[4]).data
        with cgutils.for_range_slice(builder, start, stop, ir.Constant(start.type, 1), inc=True) as (k, _):
            i = context.cast(builder, builder.load(builder.gep(index_data, [k])), indices_t.dtype, types.intp)
            row = builder.add(base, builder.mul(i, ir.Constant(i.type, BLOCK)))
            for q, total in enumerate(sums):
                source = _vector_pointer(context, builder, src_t, args[2],
                                         builder.add(row, ir.Constant(row.type, q * LANES)))
                builder.store(builder.fadd(builder.load(total), builder.load(source, align=align)), total)
        for target, total in zip(targets, sums):
            builder.store(builder.load(total), target, align=align)
        return context.get_dummy_value()
    return types.none(dst, d, src, base, indices, start, stop), codegen
