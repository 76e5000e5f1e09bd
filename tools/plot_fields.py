#!/usr/bin/python3
"""Draw the fields of a data.h5 written by `msrom simulate -system_type <field case>` as PNG figures.

1-D cases (wave, kdv, burgers1d, ks22, ks100): a space-time diagram (x across, t up) of each chosen
member, spacetime.png, and the chosen members' first and last snapshots, snapshots.png.
2-D cases (burgers2d): the chosen members at four times (rows: members, columns: times), snapshots.png.
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom simulate -options_file_yaml inputs/kdv_ci.yaml -output /tmp/kdv/data.h5
    $ /usr/bin/python3 tools/plot_fields.py /tmp/kdv/data.h5 --members 0,4
    figure: /tmp/kdv/figures/spacetime.png
    figure: /tmp/kdv/figures/snapshots.png
"""
import argparse
import os
import sys

from msrom_plot import PROG, InputError, h5py, np, plt, run, save  # noqa: F401

SPLITS = ("train", "validation", "test")


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load(path, members):
    """(system, x, y or None, time, {member: field [nt, nx(, ny)]}, split labels) of the chosen members."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            for key in ("fields/u", "grid/x", "time"):
                if key not in f:
                    raise InputError(f"{path}: not a field data set (no /{key})")
            u = f["fields/u"]
            if u.ndim not in (3, 4):
                raise InputError(f"{path}: /fields/u has {u.ndim} dimensions, expected 3 or 4")
            nm = u.shape[0]
            chosen = members if members else list(range(min(nm, 4)))
            for m in chosen:
                if not 0 <= m < nm:
                    raise InputError(f"--members: {m} is not a member (the file has {nm})")
            fields = {m: np.asarray(u[m], dtype=float) for m in chosen}
            x = np.asarray(f["grid/x"][()], dtype=float)
            y = np.asarray(f["grid/y"][()], dtype=float) if "grid/y" in f else None
            t = np.asarray(f["time"][()], dtype=float)
            split = np.asarray(f["split"][()], dtype=int) if "split" in f else np.zeros(nm, dtype=int)
            system = text(f.attrs.get("system", "field"))
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: not a readable data file ({str(e).splitlines()[0]})")
    return system, x, y, t, fields, split


def label(system, m, split):
    s = SPLITS[split[m]] if 0 <= split[m] < 3 else "?"
    return f"{system}, member {m} ({s})"


def plot_1d(system, x, t, fields, split, out):
    n = len(fields)
    fig, axes = plt.subplots(1, n, figsize=(4.2 * n, 4.0), squeeze=False)
    lim = max(np.abs(u).max() for u in fields.values()) or 1.0
    for ax, (m, u) in zip(axes[0], fields.items()):
        im = ax.imshow(u, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       extent=(x[0], x[-1] + (x[1] - x[0]), t[0], t[-1]))
        ax.set_xlabel("x")
        ax.set_ylabel("t")
        ax.set_title(label(system, m, split), fontsize=9)
    fig.colorbar(im, ax=list(axes[0]), shrink=0.9, label="u")
    save(fig, os.path.join(out, "spacetime.png"))

    fig, ax = plt.subplots(figsize=(7, 3.5))
    for m, u in fields.items():
        line, = ax.plot(x, u[0], lw=1, label=f"member {m}, t = {t[0]:g}")
        ax.plot(x, u[-1], lw=1, ls="--", color=line.get_color(), label=f"member {m}, t = {t[-1]:g}")
    ax.set_xlabel("x")
    ax.set_ylabel("u")
    ax.set_title(f"{system}: first and last snapshots", fontsize=10)
    ax.legend(fontsize=7, ncol=2)
    save(fig, os.path.join(out, "snapshots.png"), tight=True)


def plot_2d(system, x, y, t, fields, split, out):
    times = sorted(set(np.linspace(0, len(t) - 1, 4).round().astype(int)))
    rows = len(fields)
    fig, axes = plt.subplots(rows, len(times), figsize=(3.2 * len(times), 3.0 * rows), squeeze=False)
    lo = min(u.min() for u in fields.values())
    hi = max(u.max() for u in fields.values())
    for r, (m, u) in enumerate(fields.items()):
        for c, k in enumerate(times):
            ax = axes[r][c]
            # The file's order is [x, y]: transpose so that x runs across.
            im = ax.imshow(u[k].T, origin="lower", cmap="viridis", vmin=lo, vmax=hi,
                           extent=(x[0], x[-1], y[0], y[-1]))
            ax.set_title(f"member {m}, t = {t[k]:g}", fontsize=9)
            ax.set_xlabel("x")
            ax.set_ylabel("y")
    fig.colorbar(im, ax=[a for row in axes for a in row], shrink=0.8, label="u")
    fig.suptitle(label(system, next(iter(fields)), split).split(",")[0])
    save(fig, os.path.join(out, "snapshots.png"))


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("data", metavar="DATA.h5", help="a data file written by msrom simulate for a field case")
    ap.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default: figures/ beside DATA.h5)")
    ap.add_argument("--members", default="", help="comma-separated members to draw (default: the first 4)")
    a = ap.parse_args()
    try:
        members = [int(s) for s in a.members.split(",") if s.strip()]
    except ValueError:
        raise InputError(f"--members: not a list of integers ({a.members!r})")
    system, x, y, t, fields, split = load(a.data, members)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.data)), "figures")
    os.makedirs(out, exist_ok=True)
    if y is None:
        plot_1d(system, x, t, fields, split, out)
    else:
        plot_2d(system, x, y, t, fields, split, out)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
