"""Where compiled CPU kernels are cached on disk.

Numba's default puts ``cache=True`` files into ``__pycache__`` beside the source, which
for a normal install is ``site-packages/snnumba/...``. pip does not know those files, so
``pip uninstall`` (and so a later ``pip install -e``) leaves a ``snnumba`` folder behind
that Python imports as an empty namespace package, shadowing the real one. The kernels
are therefore cached in a folder of the user's instead:

- ``$NUMBA_CACHE_DIR/snnumba-<stamp>`` when ``NUMBA_CACHE_DIR`` is set (CI, clusters);
- otherwise ``<user cache>/snnumba/<stamp>``: ``$XDG_CACHE_HOME`` or ``~/.cache`` on
  Linux, ``~/Library/Caches`` on macOS, ``%LOCALAPPDATA%`` on Windows.

Numba keys each cache entry on its kernel's own source file only, so a change to a helper
that kernels inline (``scalar.py``, ``columns.py``, ``neuron_step.py``, ``cpu/_compile.py``,
``cpu/_exp.py``, ``cpu/_simd.py``, and ``cpu/lif.py`` and ``cpu/sparse.py``, whose helpers
the neuron kernels compile in) would be served stale compiled code. ``<stamp>`` is a hash of those
helper files: changing one of them (an upgrade, or a developer's edit) starts a fresh
cache folder.

If the folder cannot be created or written, Numba falls back to its own locations.
"""
import contextlib
import hashlib
import os
import pathlib
import sys

from numba.core import config

_KERNELS = pathlib.Path(__file__).resolve().parent
# the helpers that CPU kernels in other files compile inline (see the module docstring)
_INLINED_HELPERS = ("scalar.py", "columns.py", "neuron_step.py", "cpu/_compile.py", "cpu/_exp.py",
                    "cpu/lif.py", "cpu/sparse.py", "cpu/_simd.py")


def _helpers_stamp():
    digest = hashlib.sha256()
    for name in _INLINED_HELPERS:
        digest.update((_KERNELS / name).read_bytes())
    return digest.hexdigest()[:16]


def _user_cache_root():
    if sys.platform == "win32":
        return pathlib.Path(os.environ.get("LOCALAPPDATA") or pathlib.Path.home() / "AppData" / "Local")
    if sys.platform == "darwin":
        return pathlib.Path.home() / "Library" / "Caches"
    return pathlib.Path(os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache")


def kernel_cache_dir():
    """The folder that holds snnumba's compiled CPU kernels (see the module docstring)."""
    stamp = _helpers_stamp()
    if config.CACHE_DIR:
        return os.path.join(config.CACHE_DIR, f"snnumba-{stamp}")
    return str(_user_cache_root() / "snnumba" / stamp)


@contextlib.contextmanager
def caching_into_kernel_cache_dir():
    """Kernels decorated inside this block cache into :func:`kernel_cache_dir`.

    Numba picks a function's cache folder when ``njit(cache=True)`` decorates it, from
    ``numba.config.CACHE_DIR``; the setting is restored afterwards so that other Numba
    code in the process keeps its own cache location.
    """
    before = config.CACHE_DIR
    config.CACHE_DIR = kernel_cache_dir()
    try:
        yield
    finally:
        config.CACHE_DIR = before
