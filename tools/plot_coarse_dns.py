#!/usr/bin/python3
"""Draw the figures of `msrom coarse-dns`: eps(t) and the true / predicted / error fields of one trajectory.

Reads DIR/eps.h5, DIR/rollouts.h5 (the coarse DNS upsampled to the fine grid) and the data file they name
(attribute `data`), and writes into DIR/figures:
  eps.png          eps(t) = ||y - y_hat|| / ||y|| of every trajectory, their mean and +- one std
  fields.png       1-D: space-time diagrams (x across, t up) of the data, the coarse DNS and their difference
                   for one trajectory; 2-D: the same three rows at four times
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom coarse-dns -data runs/kdv/data.h5 -output runs/kdv/coarse_dns -coarse_dns_figures 0
    $ /usr/bin/python3 tools/plot_coarse_dns.py runs/kdv/coarse_dns --member 0
    figure: runs/kdv/coarse_dns/figures/eps.png
    figure: runs/kdv/coarse_dns/figures/fields.png
"""
import argparse
import os
import sys

from msrom_plot import PROG, InputError, h5py, load_metrics, np, plt, run, save  # noqa: F401


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def read(path, keys):
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            for k in keys:
                if k not in f:
                    raise InputError(f"{path}: no /{k} (not written by msrom coarse-dns)")
            return {k: np.asarray(f[k][()]) for k in keys}, {k: text(v) if isinstance(v, (bytes, str)) else v
                                                               for k, v in f.attrs.items()}
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: not readable ({str(e).splitlines()[0]})")


def plot_eps(t, eps, system, metrics, out):
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for row in eps:
        ax.plot(t, row, lw=0.6, color="0.6")
    mean, std = np.nanmean(eps, axis=0), np.nanstd(eps, axis=0)
    ax.plot(t, mean, color="C0", lw=1.8, label="mean over trajectories")
    ax.fill_between(t, mean - std, mean + std, color="C0", alpha=0.25, label="+- 1 std")
    m, s = metrics.get("eps_mean.coarse_dns"), metrics.get("eps_std.coarse_dns")
    title = f"{system}: coarse DNS, {eps.shape[0]} trajectories"
    if m is not None and s is not None:
        title += f"; eps = {m:.3f} +- {s:.3f}"
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("t")
    ax.set_ylabel("eps(t) = ||y - y_hat|| / ||y||")
    ax.legend(fontsize=8)
    save(fig, os.path.join(out, "eps.png"), tight=True)


def plot_fields(system, x, y, t, truth, pred, member, out):
    err = truth - pred
    lim = float(np.nanmax(np.abs(truth))) or 1.0
    if y is None:
        fig, axes = plt.subplots(1, 3, figsize=(13, 4.0), squeeze=False)
        ext = (x[0], x[-1] + (x[1] - x[0]), t[0], t[-1])
        for ax, u, name in zip(axes[0], (truth, pred, err), ("data y", "coarse DNS y_hat", "y - y_hat")):
            im = ax.imshow(u, origin="lower", aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=ext)
            ax.set_title(f"{name}, member {member}", fontsize=9)
            ax.set_xlabel("x")
            ax.set_ylabel("t")
        fig.colorbar(im, ax=list(axes[0]), shrink=0.9, label="u")
    else:
        times = sorted(set(np.linspace(0, len(t) - 1, 4).round().astype(int)))
        fig, axes = plt.subplots(3, len(times), figsize=(3.2 * len(times), 8.4), squeeze=False)
        for c, k in enumerate(times):
            for r, (u, name) in enumerate(((truth, "data"), (pred, "coarse DNS"), (err, "error"))):
                ax = axes[r][c]
                im = ax.imshow(u[k].T, origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim,
                               extent=(x[0], x[-1], y[0], y[-1]))
                ax.set_title(f"{name}, t = {t[k]:g}", fontsize=9)
                ax.set_xlabel("x")
                ax.set_ylabel("y")
        fig.colorbar(im, ax=[a for row in axes for a in row], shrink=0.8, label="u")
    fig.suptitle(f"{system}: data, coarse DNS and error (member {member})", fontsize=10)
    save(fig, os.path.join(out, "fields.png"))


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n")[0])
    ap.add_argument("dir", metavar="DIR", help="an output directory of msrom coarse-dns")
    ap.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default DIR/figures)")
    ap.add_argument("--member", type=int, default=None,
                    help="data-file member index to draw (default: the first one run)")
    ap.add_argument("--data", help="the data file (default: the path recorded in rollouts.h5)")
    a = ap.parse_args()
    if not os.path.isdir(a.dir):
        raise InputError(f"{a.dir}: no such directory")
    e, eattrs = read(os.path.join(a.dir, "eps.h5"), ["eps", "time", "members"])
    rpath = os.path.join(a.dir, "rollouts.h5")
    r, rattrs = read(rpath, ["grid/x", "ensemble/members"])
    system = rattrs.get("system", "field")
    members = [int(m) for m in r["ensemble/members"]]
    member = members[0] if a.member is None else a.member
    if member not in members:
        raise InputError(f"--member: {member} was not run (members: {members})")
    q = members.index(member)
    data = a.data or rattrs.get("data", "")
    if not os.path.isabs(data) and not os.path.isfile(data):
        data = os.path.join(os.path.dirname(os.path.abspath(a.dir)), data)
    if not os.path.isfile(data):
        raise InputError(f"{data}: the data file is missing (give it with --data)")
    out = a.out or os.path.join(a.dir, "figures")
    os.makedirs(out, exist_ok=True)
    t = np.asarray(e["time"], dtype=float)
    plot_eps(t, np.asarray(e["eps"], dtype=float), system, load_metrics(os.path.join(a.dir, "metrics.json")), out)
    try:
        with h5py.File(rpath, "r") as f:
            pred = np.asarray(f["ensemble/fields/u"][q], dtype=float)
            y = np.asarray(f["grid/y"][()], dtype=float) if "grid/y" in f else None
        with h5py.File(data, "r") as f:
            truth = np.asarray(f["fields/u"][member], dtype=float)
    except (OSError, KeyError, ValueError, IndexError) as ex:
        raise InputError(f"{data}: cannot read the fields ({str(ex).splitlines()[0]})")
    plot_fields(system, np.asarray(r["grid/x"], dtype=float), y, t, truth, pred, member, out)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
