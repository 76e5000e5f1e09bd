"""What msrom's plotting tools share: the dependency check, the error convention and atomic PNG output.

Every tool (plot_*.py) reports bad input as one line `TOOL: reason` on stderr with exit code 2, never a
traceback, and writes each figure under a temporary name that is renamed into place when complete.
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.
"""
import argparse
import json
import os
import sys

PROG = os.path.basename(sys.argv[0]) or "msrom plot"

try:
    import h5py  # noqa: F401  (re-exported for the tools)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np  # noqa: F401
except ImportError as e:
    sys.exit(f"{PROG}: {e.name} is missing; run with /usr/bin/python3")


class InputError(Exception):
    """Bad input: reported as one line, exit code 2."""


def save(fig, path, tight=False):
    """Write to a temporary name in the same folder, then rename into place."""
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        if tight:
            fig.tight_layout()
        fig.savefig(tmp, dpi=120, format="png")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        if os.path.exists(tmp):
            os.remove(tmp)
    print(f"figure: {path}")


def run(main):
    """Runs main() and turns InputError and OSError into one line on stderr and exit code 2."""
    try:
        return main()
    except InputError as e:
        print(f"{PROG}: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"{PROG}: {e.filename or ''}: {e.strerror or e}", file=sys.stderr)
        return 2


def directory_args(description, dir_help):
    """Parses `TOOL DIR [--out FIGDIR]` (the figures go to DIR/figures by default); DIR must exist."""
    ap = argparse.ArgumentParser(prog=PROG, description=description)
    ap.add_argument("dir", metavar="DIR", help=dir_help)
    ap.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default DIR/figures)")
    a = ap.parse_args()
    if not os.path.isdir(a.dir):
        raise InputError(f"{a.dir}: no such directory")
    return a


def load_metrics(path):
    """metrics.json as a dict; {} (with a note) if it is missing or malformed: figures do without it."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            m = json.load(f)
        return m if isinstance(m, dict) else {}
    except (OSError, ValueError) as e:
        print(f"{PROG}: note: {path}: ignored ({e})", file=sys.stderr)
        return {}
