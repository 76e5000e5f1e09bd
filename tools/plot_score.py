#!/usr/bin/python3
"""Draw a learned score model (msrom learn-score's model.h5) as PNG figures.

Writes, into FIGDIR (default: the model's folder + /figures):
  score.png          the MLP score s(u) = -eps_hat(u)/sigma as a line over the centroid scores s_k
                     (kgmm; coloured by count) and, below, the residual s(c_k) - s_k; full range
                     and a zoom on the bulk (the walls of a bounded density make |s| large)
  score_density.png  the density the score implies, p(u) ~ exp(int s du), linear and log-y, over the
                     histogram of the data's validation part (--data); the legend gives
                     KL(data histogram || implied), both taken as masses on the histogram bins
  divergence.png     (kgmm) the centroid divergences and the MLP's ds/du by central differences;
                     full range and a zoom on the bulk
All in normalised coordinates u = (x - mean)/std. For d > 1 the score and divergence are drawn along
per-dimension slices through the origin, and score_density.png is skipped.
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom pipeline -options_file_yaml inputs/bistable_ci.yaml -output /tmp/run
    $ /usr/bin/python3 tools/plot_score.py /tmp/run/model.h5 --data /tmp/run/data.h5
    figure: /tmp/run/figures/score.png
    figure: /tmp/run/figures/score_density.png
    figure: /tmp/run/figures/divergence.png
"""
import argparse
import math
import os
import sys

from msrom_plot import InputError, PROG, h5py, np, plt, run, save  # noqa: F401

MAX_SAMPLES = 2_000_000  # data samples read for the histogram
LEAKY_SLOPE = 0.01       # as src/nn/mlp.cpp



def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


# ------------------------------------------------------------------------------------------- the model
class Mlp:
    """eps_hat of src/nn/mlp.cpp: per layer W (out x in, column-major) then b (out); identity output."""

    def __init__(self, widths, params, activation):
        self.layers = []
        off = 0
        for n_in, n_out in zip(widths[:-1], widths[1:]):
            w = params[off:off + n_in * n_out].reshape(n_in, n_out).T  # column-major out x in
            off += n_in * n_out
            self.layers.append((w, params[off:off + n_out]))
            off += n_out
        self.activation = activation

    def act(self, z):
        if self.activation == "swish":
            return z * (0.5 * (1.0 + np.tanh(0.5 * z)))  # z sigmoid(z), without exp overflow
        if self.activation == "tanh":
            return np.tanh(z)
        if self.activation == "leaky_relu":
            return np.where(z > 0, z, LEAKY_SLOPE * z)
        return z

    def __call__(self, u):
        """u: [n, d_in] -> [n, d_out]."""
        a = np.asarray(u, dtype=float)
        for i, (w, b) in enumerate(self.layers):
            a = a @ w.T + b
            if i < len(self.layers) - 1:
                a = self.act(a)
        return a


def n_params(widths):
    return sum(i * o + o for i, o in zip(widths[:-1], widths[1:]))


def load_model(path):
    if os.path.isdir(path):
        raise InputError(f"{path}: is a directory, not a model file (MODEL.h5)")
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file")
    try:
        with h5py.File(path, "r") as f:
            def need(key):
                if key not in f:
                    raise InputError(f"{path}: malformed, no /{key} (not a learn-score model?)")
                return np.asarray(f[key][()], dtype=float)

            def attr(obj, key):
                if key not in f[obj].attrs:
                    raise InputError(f"{path}: malformed, no attribute {key!r} on {obj}")
                return f[obj].attrs[key]

            if "score/mlp" not in f or not isinstance(f["score/mlp"], h5py.Group):
                raise InputError(f"{path}: malformed, no group /score/mlp (not a learn-score model?)")
            m = {"path": path}
            m["mean"] = np.atleast_1d(need("normalization/mean"))
            m["std"] = np.atleast_1d(need("normalization/std"))
            tf = f["normalization/mean"].attrs.get("train_fraction")
            m["train_fraction"] = float(tf) if tf is not None else None
            m["data"] = text(f.attrs.get("data", ""))
            m["dataset"] = text(f.attrs.get("dataset", "/state"))
            widths = np.atleast_1d(need("score/mlp/widths"))
            params = np.atleast_1d(need("score/mlp/params"))
            m["activation"] = text(attr("/score/mlp", "activation"))
            m["sigma"] = float(np.asarray(attr("/score/mlp", "sigma")).reshape(-1)[0])
            m["method"] = text(attr("/score/mlp", "method"))
            if m["method"] == "kgmm":
                for k in ("centroids", "values", "divergence", "counts"):
                    m[k] = need(f"score/{k}")
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, AttributeError, IndexError) as e:
        raise InputError(f"{path}: not a readable model file ({str(e).splitlines()[0]})")

    d = m["mean"].size
    if d < 1 or m["std"].size != d or m["mean"].ndim != 1:
        raise InputError(f"{path}: malformed, /normalization/mean and /std must have the same positive length")
    if not np.all(m["std"] > 0) or not np.all(np.isfinite(m["mean"])):
        raise InputError(f"{path}: malformed, /normalization/std must be > 0 and mean finite")
    if widths.ndim != 1 or widths.size < 2 \
            or not np.all((widths >= 1) & (widths <= 1e9) & (widths == np.floor(widths))):
        raise InputError(f"{path}: malformed, /score/mlp/widths must be >= 2 positive integers")
    widths = [int(w) for w in widths]
    if widths[0] != d or widths[-1] != d:
        raise InputError(f"{path}: malformed, /score/mlp maps R^{widths[0]} to R^{widths[-1]}, not R^{d} to itself")
    if params.ndim != 1 or params.size != n_params(widths):
        raise InputError(f"{path}: malformed, /score/mlp/params has {params.size} values, widths {widths} "
                         f"need {n_params(widths)}")
    if m["activation"] not in ("swish", "tanh", "leaky_relu", "identity"):
        raise InputError(f"{path}: malformed, unknown activation {m['activation']!r} on /score/mlp")
    if not (m["sigma"] > 0 and math.isfinite(m["sigma"])):
        raise InputError(f"{path}: malformed, /score/mlp sigma must be > 0")
    if m["method"] not in ("kgmm", "dsm"):
        raise InputError(f"{path}: malformed, /score/mlp method {m['method']!r} is neither kgmm nor dsm")
    m["d"], m["widths"] = d, widths
    m["mlp"] = Mlp(widths, params, m["activation"])
    if m["method"] == "kgmm":
        c, v = m["centroids"], m["values"]
        if c.ndim == 1 and d == 1:
            c, v = c[:, None], v.reshape(-1, 1)
        k = c.shape[0]
        if c.ndim != 2 or c.shape[1] != d or v.shape != c.shape or k < 1:
            raise InputError(f"{path}: malformed, /score/centroids and /score/values must both be [K, {d}]")
        m["divergence"], m["counts"] = m["divergence"].reshape(-1), m["counts"].reshape(-1)
        if m["divergence"].size != k or m["counts"].size != k:
            raise InputError(f"{path}: malformed, /score/divergence and /score/counts must have K = {k} values")
        m["centroids"], m["values"] = c, v
    return m


def score(m, u):
    """Score in normalised coordinates at u [n, d]."""
    with np.errstate(all="ignore"):
        return -m["mlp"](u) / m["sigma"]


# -------------------------------------------------------------------------------------------- the data
def load_data(path, dataset, m):
    """Normalised first variable of the validation part of DATA (at most MAX_SAMPLES, strided)."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise InputError(f"{path}: not an HDF5 file")
    tf = m["train_fraction"]
    try:
        with h5py.File(path, "r") as f:
            if dataset not in f or not isinstance(f[dataset], h5py.Dataset):
                raise InputError(f"{path}: no dataset {dataset}")
            ds = f[dataset]
            if ds.ndim == 2:
                members, nt, dims = 1, ds.shape[0], ds.shape[1]
            elif ds.ndim == 3:
                members, nt, dims = ds.shape
            else:
                raise InputError(f"{path}: {dataset} has shape {ds.shape}, "
                                 "not [members, time, dims] or [samples, dims]")
            if dims != m["d"]:
                raise InputError(f"{path}: {dataset} has {dims} variables, the model {m['d']}")
            start = int(math.floor(tf * nt)) if tf is not None and 0 <= tf < 1 else 0
            per = nt - start
            if members < 1 or per < 1:
                raise InputError(f"{path}: {dataset} has no validation samples (shape {ds.shape})")
            stride = max(1, -(-members * per // MAX_SAMPLES))
            parts = [ds[start::stride, 0] if ds.ndim == 2 else ds[i, start::stride, 0] for i in range(members)]
    except InputError:
        raise
    except (OSError, KeyError, ValueError, TypeError, IndexError) as e:
        raise InputError(f"{path}: not a readable data file ({str(e).splitlines()[0]})")
    x = np.concatenate(parts).astype(float)
    x = x[np.isfinite(x)]
    if x.size < 16:
        raise InputError(f"{path}: {dataset}: only {x.size} finite validation samples")
    what = "validation" if start > 0 else "all"
    label = f"data, {what} part ({x.size:,} samples" + (f", every {stride}th" if stride > 1 else "") + ")"
    return (x - m["mean"][0]) / m["std"][0], label


# ------------------------------------------------------------------------------------------- figures


def u_range(m):
    if m["method"] == "kgmm":
        c = m["centroids"]
        return c.min(0) - 0.5, c.max(0) + 0.5
    return np.full(m["d"], -4.0), np.full(m["d"], 4.0)


def slice_points(m, j, t):
    """Points on the line through the origin along dimension j: [len(t), d]."""
    u = np.zeros((t.size, m["d"]))
    u[:, j] = t
    return u


def near_slice(m, j, tol=0.5):
    """Centroids whose other coordinates are all within tol of 0 (all of them when d == 1)."""
    others = np.delete(m["centroids"], j, axis=1)
    return np.all(np.abs(others) < tol, axis=1) if others.size else np.ones(len(m["centroids"]), bool)


def title(m):
    return f"{m['method']}, sigma = {m['sigma']:g}, {m['activation']} MLP {m['widths']}"


def robust_view(values, k):
    """(lo, hi): median +- k MADs of values (the bulk, without the walls' steep tails), or None."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size < 4:
        return None
    med = float(np.median(v))
    mad = float(np.median(np.abs(v - med)))
    if not mad > 0:
        return None
    lo, hi = max(v.min(), med - k * mad), min(v.max(), med + k * mad)
    pad = 0.08 * (hi - lo) + 1e-9
    return lo - pad, hi + pad


def plot_score(m, rms, data, path):
    """Per dimension: [full view | zoom on the bulk], with the residual MLP - s_k below (kgmm)."""
    d = m["d"]
    lo, hi = u_range(m)
    kg = m["method"] == "kgmm"
    fig = plt.figure(figsize=(13.5, (5.8 if kg else 4.4) * d))
    outer = fig.add_gridspec(d, 1, hspace=0.3)
    for j in range(d):
        if kg:
            panels, cbar = outer[j].subgridspec(1, 2, width_ratios=[1, 0.018], wspace=0.015)
            gs = panels.subgridspec(2, 2, height_ratios=[3, 1], hspace=0.08, wspace=0.2)
            cbar = cbar.subgridspec(2, 1, height_ratios=[3, 1], hspace=0.08)[0]
        else:
            gs = outer[j].subgridspec(1, 2, wspace=0.2)
        t = np.linspace(lo[j], hi[j], 1001)
        s_line = score(m, slice_points(m, j, t))[:, j]
        ulabel = "u = (x - mean)/std" if d == 1 else f"u_{j} = (x_{j} - mean_{j})/std_{j} (others 0)"
        if kg:
            sel = near_slice(m, j)
            c, v, n = m["centroids"][sel], m["values"][sel], m["counts"][sel]
            resid = score(m, c)[:, j] - v[:, j]
        for k in range(2):
            ax = fig.add_subplot(gs[0, k])
            if kg:
                sc = ax.scatter(c[:, j], v[:, j], c=n, s=10, cmap="viridis", zorder=2,
                                label=f"centroid scores s_k ({sel.sum()} centroids"
                                      + (")" if d == 1 else ", others |u| < 0.5)"))
            ax.plot(t, s_line, "C3", lw=1.5, zorder=3, label="MLP score -eps_hat(u)/sigma")
            ax.axhline(0, color="k", lw=0.6)
            ax.set_xlim(lo[j], hi[j])
            ax.set_ylabel("score s(u)" if d == 1 else f"score s_{j}(u)")
            if k == 0:
                if kg:
                    ax.plot([], [], " ", label=f"RMS |MLP - s_k| = {rms[0]:.3g}, count-weighted {rms[1]:.3g}")
                ax.set_title(f"Score model ({title(m)})" if j == 0 else f"dimension {j}", fontsize="medium")
            else:
                ax.set_title("zoom on the bulk" + ("" if d == 1 else f", dimension {j}"), fontsize="medium")
                if kg:  # the bulk of the centroid scores, not the steep walls
                    view = robust_view(v[:, j], 8)
                    if view:
                        ax.set_ylim(*view)
                    fig.colorbar(sc, cax=fig.add_subplot(cbar)).set_label("samples in cluster (all passes)")
                else:  # dsm: where the data live (0.1 to 99.9 percent), else |u| < 2
                    a, b = (np.percentile(data[0], [0.1, 99.9]) + [-0.25, 0.25]) if data and d == 1 else (-2, 2)
                    ax.set_xlim(a, b)
                    inside = s_line[(t >= a) & (t <= b) & np.isfinite(s_line)]
                    if inside.size:
                        pad = 0.08 * (inside.max() - inside.min()) + 1e-9
                        ax.set_ylim(inside.min() - pad, inside.max() + pad)
            ax.legend(fontsize="small", loc="best")
            if not kg:
                ax.set_xlabel(ulabel)
                continue
            ax.tick_params(labelbottom=False)
            ax2 = fig.add_subplot(gs[1, k], sharex=ax)
            ax2.scatter(c[:, j], resid, c=n, s=6, cmap="viridis")
            ax2.axhline(0, color="k", lw=0.6)
            ax2.set_ylabel("MLP - s_k")
            ax2.set_xlabel(ulabel)
            if k == 1:
                view = robust_view(resid, 10)
                if view:
                    ax2.set_ylim(*view)
    fig.subplots_adjust(left=0.065, right=0.94, top=1 - 0.06 / d, bottom=(0.08 if kg else 0.12) / d)
    save(fig, path)


def implied_density(m, grid):
    """p(u) ~ exp(cumulative trapezoid of s), normalised on grid (d == 1)."""
    s = score(m, grid[:, None])[:, 0]
    logp = np.concatenate([[0.0], np.cumsum(0.5 * (s[1:] + s[:-1]) * np.diff(grid))])
    p = np.exp(logp - logp.max())
    return p / np.sum(0.5 * (p[1:] + p[:-1]) * np.diff(grid))


def kl_on_bins(counts, edges, grid, q):
    """KL(p || q) with p = histogram masses, q = implied masses on the same bins (renormalised to them)."""
    cq = np.concatenate([[0.0], np.cumsum(0.5 * (q[1:] + q[:-1]) * np.diff(grid))])
    qm = np.diff(np.interp(edges, grid, cq))
    p = counts / counts.sum()
    if not qm.sum() > 0:
        return math.inf
    qm = qm / qm.sum()
    nz = p > 0
    if np.any(qm[nz] <= 0):
        return math.inf
    return float(np.sum(p[nz] * np.log(p[nz] / qm[nz])))


def plot_density(m, data, path):
    lo, hi = u_range(m)
    lo, hi = float(lo[0]), float(hi[0])
    x = label = None
    if data is not None:
        x, label = data
        lo, hi = min(lo, x.min() - 0.5), max(hi, x.max() + 0.5)
    grid = np.linspace(lo, hi, 8001)
    q = implied_density(m, grid)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4))
    for ax, log in zip(axes, (False, True)):
        if x is not None:
            counts, edges = np.histogram(x, bins=120)
            dens = counts / (counts.sum() * np.diff(edges))
            ax.stairs(dens, edges, fill=True, alpha=0.35, color="C0", label=f"histogram of {label}")
        ax.plot(grid, q, "C3", lw=1.6, label="implied by the MLP score: exp(int s du) / Z")
        if x is not None and not log:
            kl = kl_on_bins(counts, edges, grid, q)
            ax.plot([], [], " ", label=f"KL(data hist || implied) = {kl:#.3g}")
        if log:
            ax.set_yscale("log")
            floor = dens[dens > 0].min() / 10 if x is not None else q.max() * 1e-8
            ax.set_ylim(max(floor, q.max() * 1e-12), q.max() * 3)
        if log:
            ax.set_xlim(lo, hi)
        else:  # where the data are or the implied density exceeds 1e-4 of its peak
            big = grid[q > 1e-4 * q.max()]
            a, b = (big.min(), big.max()) if big.size else (lo, hi)
            if x is not None:
                a, b = min(a, x.min()), max(b, x.max())
            ax.set_xlim(max(lo, a - 0.1 * (b - a)), min(hi, b + 0.1 * (b - a)))
        ax.set(xlabel="u = (x - mean)/std", ylabel="probability density" + (" (log)" if log else ""))
        ax.set_title("Implied density" + (", log scale (tails)" if log else f" ({title(m)})"),
                     fontsize="medium")
        ax.legend(fontsize="small", loc="best" if not log else "lower center")
    fig.tight_layout()
    save(fig, path)


def plot_divergence(m, path):
    """Per dimension two panels: every centroid, and a zoom on the bulk (the noisy centroid estimates)."""
    d = m["d"]
    lo, hi = u_range(m)
    h = 1e-3
    fig, axes = plt.subplots(d, 2, figsize=(12.5, 4.4 * d), squeeze=False)
    for j, row in enumerate(axes):
        t = np.linspace(lo[j], hi[j], 1001)
        u = slice_points(m, j, t)
        div = np.zeros(t.size)
        for i in range(d):  # trace of the Jacobian by central differences
            e = np.zeros(d)
            e[i] = h
            div += (score(m, u + e)[:, i] - score(m, u - e)[:, i]) / (2 * h)
        sel = near_slice(m, j)
        c, dv, n = m["centroids"][sel, j], m["divergence"][sel], m["counts"][sel]
        for k, ax in enumerate(row):
            sc = ax.scatter(c, dv, c=n, s=12, cmap="viridis", zorder=2,
                            label=f"centroid divergence ({sel.sum()} centroids"
                                  + (")" if d == 1 else ", others |u| < 0.5)"))
            ax.plot(t, div, "C3", lw=1.6, zorder=3,
                    label="MLP: " + ("ds/du" if d == 1 else "div s") + " (central differences)")
            ax.axhline(0, color="k", lw=0.6)
            ax.set_xlim(lo[j], hi[j])
            ax.set(xlabel="u = (x - mean)/std" if d == 1 else f"u_{j} (others 0)",
                   ylabel="divergence of s(u)")
            if k == 0:
                ax.set_title(f"Score divergence ({title(m)})" if j == 0 else f"dimension {j}", fontsize="medium")
            else:
                # The centroid divergences are noisy (a variance over sigma^4) and fall to about
                # -1/sigma^2 at the walls of the density: zoom on the bulk.
                view = robust_view(dv if dv.size else div, 6)
                if view:
                    ax.set_ylim(*view)
                    out = int(np.sum((dv < view[0]) | (dv > view[1])))
                    if out:
                        ax.plot([], [], " ", label=f"{out} centroid(s) outside this view")
                ax.set_title("zoom on the bulk", fontsize="medium")
                fig.colorbar(sc, ax=ax, pad=0.01).set_label("samples in cluster (all passes)")
            ax.legend(fontsize="small", loc="lower center")
    fig.tight_layout()
    save(fig, path)


def main():
    ap = argparse.ArgumentParser(prog=PROG, description="Draw a learned score model (model.h5) as PNGs.")
    ap.add_argument("model", metavar="MODEL.h5", help="model file written by msrom learn-score")
    ap.add_argument("--data", metavar="DATA.h5", help="data file: histogram of its validation part")
    ap.add_argument("--dataset", default="/state", help="dataset in DATA.h5 (default /state)")
    ap.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default MODEL's folder/figures)")
    a = ap.parse_args()
    m = load_model(a.model)
    # The forward pass against the centroid values: a malformed network gives non-finite scores.
    if m["method"] == "kgmm":
        diff = score(m, m["centroids"]) - m["values"]
        w = m["counts"] / m["counts"].sum() if m["counts"].sum() > 0 else np.full(len(diff), 1 / len(diff))
        # RMS over the centroids of |MLP - s_k| (Euclidean in d); the count-weighted one is the
        # learn-score metric score_fit_rms.
        sq = np.sum(diff ** 2, axis=1)
        rms = (float(np.sqrt(np.mean(sq))), float(np.sqrt(np.sum(w * sq))))
        if not all(map(math.isfinite, rms)):
            raise InputError(f"{a.model}: malformed, RMS of MLP score - /score/values at the centroids "
                             f"is {rms[0]} (non-finite network or values)")
    else:
        rms = None
        lo, hi = u_range(m)
        probe = np.linspace(lo, hi, 101)
        if not np.all(np.isfinite(score(m, probe))):
            raise InputError(f"{a.model}: malformed, the MLP score is not finite on [-4, 4]")
    data = load_data(a.data, a.dataset, m) if a.data else None
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.model)), "figures")
    if os.path.exists(out) and not os.path.isdir(out):
        raise InputError(f"{out}: exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    plot_score(m, rms, data, os.path.join(out, "score.png"))
    if m["d"] == 1:
        plot_density(m, data, os.path.join(out, "score_density.png"))
    else:
        print(f"note: score_density.png skipped: the model is {m['d']}-dimensional")
    if m["method"] == "kgmm":
        plot_divergence(m, os.path.join(out, "divergence.png"))
    else:
        print("note: divergence.png skipped: a dsm model has no centroid divergences")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
