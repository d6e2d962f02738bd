"""Large host arrays handed out again once nobody holds them (the CPU backend's ``empty``).

A training step allocates the same large arrays every time: recordings, activations,
gradients ([T, B, N], tens to hundreds of MB each). Fresh memory from the system is
zeroed page by page on first write, and glibc returns freed blocks of this size to the
system at once, so every step paid for those page faults again (T=100, B=256, 700 -> 256
recurrent -> 20, runs alternating with and without the pool: 241-295 -> 200-233 ms per step,
about what glibc told to keep freed memory gives).

The pool keeps the buffers it handed out. Sizes are rounded up to one of eight steps per
power of two (at most 12.5 % more), so that arrays whose size changes a little from step to
step (the lists of the spikes of each batch, ``layers.spike_events``) share a buffer: with
exact sizes each such request took a new one, and a recurrent training step's pool grew by
1.4 MB per step (700 -> 256 -> 20 on fresh inputs: 17 buffers after 10 steps, 46 after 40).
A request gets a buffer of its rounded size that nothing outside the pool references any
more (Python's reference count: every view of a buffer, and every array made from one,
holds a reference to it), so no array a caller still holds is ever handed out twice. Small
requests go to NumPy. The pool holds at most ``max_bytes``; beyond it, free buffers are
dropped oldest first, and requests that still do not fit get plain NumPy memory.
``snnumba.release_memory()`` lets go of the free ones.
"""
import math
import os
import sys
import threading

import numpy as np

#: Requests below this many bytes go straight to NumPy (glibc reuses small blocks itself).
MIN_BYTES = 1 << 20


def _default_max_bytes():
    """A quarter of physical memory (1 GiB where it cannot be read)."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4
    except (ValueError, OSError, AttributeError):
        return 1 << 30


def size_class(nbytes):
    """The buffer size that serves a request of ``nbytes`` (>= 1): rounded up to a multiple of
    an eighth of the power of two below it."""
    step = 1 << max(0, nbytes.bit_length() - 4)
    return -(-nbytes // step) * step


class BufferPool:
    """``empty(shape, dtype)`` from recycled buffers (see the module docstring)."""

    def __init__(self, max_bytes=None):
        self.max_bytes = _default_max_bytes() if max_bytes is None else int(max_bytes)
        self._buffers = []            # 1-D uint8 arrays, oldest first
        self._lock = threading.Lock()  # a buffer is checked free and handed out in one go

    def _is_free(self, i):
        # two references: the pool's list and getrefcount's argument
        return sys.getrefcount(self._buffers[i]) == 2

    def held_bytes(self):
        return sum(buf.nbytes for buf in self._buffers)

    def empty(self, shape, dtype):
        dtype = np.dtype(dtype)
        nbytes = math.prod(np.atleast_1d(shape).tolist()) * dtype.itemsize  # np.prod took 4 us a call
        if nbytes < MIN_BYTES:
            return np.empty(shape, dtype)
        size = size_class(nbytes)
        with self._lock:
            for i in range(len(self._buffers)):
                if self._buffers[i].nbytes == size and self._is_free(i):
                    return self._buffers[i][:nbytes].view(dtype).reshape(shape)
            held = self.held_bytes()
            i = 0
            while held + size > self.max_bytes and i < len(self._buffers):
                if self._is_free(i):
                    held -= self._buffers.pop(i).nbytes
                else:
                    i += 1
            if held + size > self.max_bytes:
                return np.empty(shape, dtype)
            buf = np.empty(size, np.uint8)
            self._buffers.append(buf)
            return buf[:nbytes].view(dtype).reshape(shape)

    def release(self):
        """Drop every buffer (those still in use live on with their arrays)."""
        with self._lock:
            self._buffers.clear()


#: The pool of the CPU backend.
POOL = BufferPool()


def release_memory():
    """Let go of the large arrays the CPU backend keeps for reuse.

    The backend recycles the buffers of its large arrays (recordings, activations,
    gradients) from one training step to the next and keeps up to a quarter of the
    physical memory for that. Call this after training to give the free ones back to
    the system; arrays still in use are not affected.
    """
    POOL.release()
