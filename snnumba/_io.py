"""Saving that never leaves a half-written file behind, and loading that says what is wrong.

Every snnumba ``.npz`` file carries a ``kind`` entry (``'network'``, ``'classifier'`` or
``'checkpoint'``); files written before the marker existed are recognised by their
entries instead.
"""
import errno
import json
import os
import secrets

import numpy as np

from ._validation import check_array

#: The entry that identifies each kind in files written before the ``kind`` marker.
LEGACY_ENTRIES = {"checkpoint": "checkpoint", "network": "meta", "classifier": "rates"}


def atomic_savez(path, **arrays):
    """``np.savez`` into ``path`` through :func:`atomic_write`."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def atomic_write(path, write):
    """Call ``write(binary_file)`` on a temporary file beside ``path``, then rename it into
    place, so an existing file is either kept whole or replaced whole.

    The temporary is named ``<name>.tmp-<8 hex digits>`` in the target's folder (for
    ``net.npz``: ``net.npz.tmp-3f9a2c1d``). Only a process killed mid-save (SIGKILL,
    power loss) leaves one behind; it is safe to delete. The data is flushed to disk
    before the rename, and the file gets the permissions ``open()`` would give it
    (``0o666`` less the umask), as ``np.savez`` does.
    """
    path = os.fspath(path)
    folder, name = os.path.split(os.path.abspath(path))
    while True:
        tmp = os.path.join(folder, f"{name}.tmp-{secrets.token_hex(4)}")
        try:
            # mode 0o666 through open(2) lets the kernel apply the umask (and any default
            # ACL), as np.savez's open() does; mkstemp would give 0o600
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
            break
        except FileExistsError:
            continue
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError as exc:  # already gone: nothing to clean up
            if exc.errno != errno.ENOENT:
                raise
        raise


def load_npz(path, kinds):
    """Read every array of an snnumba ``.npz`` file of one of ``kinds``, checked.

    Parameters
    ----------
    path : str or os.PathLike
    kinds : sequence of str
        Accepted file kinds; the first one names the expected kind in errors.

    Returns
    -------
    dict of name -> numpy array, fully read (the file is closed).

    Raises
    ------
    OSError
        When the file cannot be opened (missing, a folder, no permission).
    ValueError
        Naming ``path``, when it is not an ``.npz`` archive, is truncated or corrupted,
        holds pickled objects, is of another kind, or has a float entry with NaN/inf.
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        try:
            data = np.load(f, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds a single array, not an .npz archive")
            with data:
                arrays = {key: data[key] for key in data.files}
        except MemoryError:
            raise
        except Exception as exc:  # zipfile, zlib, numpy's format and pickle errors alike
            raise ValueError(f"{path} cannot be read as an .npz file ({type(exc).__name__}: {exc})") from exc
    kind = _kind(arrays)
    if kind not in kinds:
        why = ("no 'kind' entry" if kind is None else f"it is an snnumba {kind} file" if kind in LEGACY_ENTRIES
               else f"its 'kind' is {kind!r}")
        raise ValueError(f"{path} is not an snnumba {kinds[0]} file ({why})")
    for key, value in arrays.items():
        if value.dtype.kind == "f":
            try:
                check_array(key, value)
            except ValueError as exc:
                raise ValueError(f"{path}: {exc}") from None
    return arrays


def _kind(arrays):
    """The file's kind: its ``kind`` entry, else the kind its entries show, else None."""
    if "kind" in arrays:
        value = arrays["kind"]
        return str(value) if value.dtype.kind == "U" and value.ndim == 0 else None
    for kind, entry in LEGACY_ENTRIES.items():  # checkpoint first: it also holds 'meta'
        if entry in arrays:
            return kind
    return None


def read_json(arrays, key, source):
    """The JSON object stored as a string in ``arrays[key]``; ValueError naming ``source``."""
    if key not in arrays:
        raise ValueError(f"{source} has no {key!r} entry")
    value = np.asarray(arrays[key])
    try:
        if value.dtype.kind != "U" or value.ndim != 0:
            raise ValueError(f"expected a string, got an array of dtype {value.dtype} and shape {value.shape}")
        obj = json.loads(str(value))
        if not isinstance(obj, dict):
            raise ValueError(f"expected a JSON object, got {type(obj).__name__}")
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise ValueError(f"{source}: entry {key!r} is not valid metadata ({exc})") from None
    return obj
