"""Checks that every ``snnumba`` subcommand runs before any work starts."""
import os
import sys


def check_output(parser, option, path):
    """A usage error now, not after hours of work, if ``path`` cannot be written."""
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        parser.error(f"{option} {path!r} is a folder; give a file name")
    if not os.path.isdir(folder):
        parser.error(f"{option} {path!r}: the folder {folder!r} does not exist")
    if not os.access(folder, os.W_OK):
        parser.error(f"{option} {path!r}: the folder {folder!r} is not writable")


def require_pyplot():
    """Exit with the install hint when ``--plot`` is given without matplotlib."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        sys.exit("snnumba: --plot needs matplotlib: pip install 'snnumba[plot]'")
