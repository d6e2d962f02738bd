"""Compiled kernels are cached in the user's folder, never beside the installed sources."""
import ast
import os
import pathlib
import subprocess
import sys

from numba.core import config

from snnumba.kernels import _cache

PACKAGE = pathlib.Path(_cache.__file__).resolve().parents[1]

# one small kernel compiled in a fresh process
COMPILE_ONE = """
import numpy as np
from numba.core import config
from snnumba.kernels.cpu import sgd_step
p = np.zeros(3); sgd_step(p, np.ones(3), np.zeros(3), 0.1, 0.0, 0.0, 0.0, False, True)
assert np.allclose(p, -0.1), p
print(repr(config.CACHE_DIR))
"""


def _run(env_changes):
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env.update(env_changes)
    out = subprocess.run([sys.executable, "-c", COMPILE_ONE], env=env, capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


def _index_files(folder):
    return sorted(p for p in pathlib.Path(folder).rglob("*.nbi") if "sgd_step" in p.name)


def test_without_numba_cache_dir_kernels_go_to_the_user_cache_not_the_package(tmp_path):
    before = set(_index_files(PACKAGE))
    printed = _run({"XDG_CACHE_HOME": str(tmp_path), "HOME": str(tmp_path)})
    # Numba's own setting is left as it was for the rest of the process
    assert printed == repr(""), printed
    cached = _index_files(tmp_path / "snnumba")
    assert cached, "no cache index written under the user cache folder"
    assert set(_index_files(PACKAGE)) == before, "kernels were cached beside the package sources"


def test_fixed_option_kernels_made_after_the_import_cache_with_the_others():
    """The neuron family's fixed-option kernels are decorated at their first use, after the
    import: they too go to the stamped folder, not beside the sources (where a helper's
    change would not reach them)."""
    from snnumba.kernels.cpu import neuron
    module_kernels = pathlib.Path(neuron._forward_default._cache._cache_path)
    assert module_kernels.parent == pathlib.Path(_cache.kernel_cache_dir())
    for factory, options in ((neuron._forward_blocks_fixed, (1, 1, True, False)),
                             (neuron._backward_recurrent_fixed, (1, 2, True, True, 0, False))):
        assert pathlib.Path(factory(*options)._cache._cache_path) == module_kernels


def test_numba_cache_dir_is_honoured_in_a_folder_per_helper_version(tmp_path):
    printed = _run({"NUMBA_CACHE_DIR": str(tmp_path)})
    assert printed == repr(str(tmp_path))
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("snnumba-")]
    assert _index_files(folder)


def test_a_changed_inlined_helper_gets_a_fresh_cache_folder(tmp_path, monkeypatch):
    for name in _cache._INLINED_HELPERS:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes((PACKAGE / "kernels" / name).read_bytes())
    monkeypatch.setattr(_cache, "_KERNELS", tmp_path)
    first = _cache.kernel_cache_dir()
    assert first == _cache.kernel_cache_dir()
    with open(tmp_path / "scalar.py", "a") as f:
        f.write("\n# edited\n")
    assert _cache.kernel_cache_dir() != first


def test_every_file_the_cpu_kernels_import_from_is_in_the_stamp():
    """A CPU kernel compiles what it imports from another file into itself, and Numba keys
    its cache on the kernel's own file: every file imported from must be in the stamp, or an
    edit there would be served stale code (``add_rows`` in sparse.py and ``_block`` in lif.py
    are compiled into neuron.py's kernels)."""
    kernels = PACKAGE / "kernels"
    imported = set()
    for path in (kernels / "cpu").glob("*.py"):
        if path.name == "__init__.py":       # imports the kernels; compiles nothing into them
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level:
                base = path.parent if node.level == 1 else path.parent.parent
                names = [node.module] if node.module else [alias.name for alias in node.names]
                imported |= {(base / (name.replace(".", "/") + ".py")).relative_to(kernels).as_posix()
                             for name in names}
    assert "cpu/sparse.py" in imported and "neuron_step.py" in imported
    imported.discard("_cache.py")            # picks the cache folder; compiles nothing into them
    assert imported <= set(_cache._INLINED_HELPERS)


def test_the_block_restores_numba_setting():
    before, target = config.CACHE_DIR, _cache.kernel_cache_dir()
    with _cache.caching_into_kernel_cache_dir():
        assert config.CACHE_DIR == target
    assert config.CACHE_DIR == before
