"""Saving that never leaves a half-written file behind."""
import os
import tempfile

import numpy as np


def atomic_savez(path, **arrays):
    """``np.savez`` to a temporary file beside ``path``, then rename it into place, so an
    existing file is either kept whole or replaced whole."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
