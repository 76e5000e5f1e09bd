#!/usr/bin/python3
"""Draw the figures of `msrom evaluate-msde`: eps(t) per model, space-time diagrams, energy spectra.

Reads DIR/msde_eval.h5 (/time, /eps/<model> [trajectories, nt], /fields/<name> [nt, nx] or [nt, nx, ny]
of the first trajectory of the scored split, truth included; [nt, C, ...] for a field of C components, named
by the attribute /fields/components, of which the figures show the first) and DIR/metrics.json, and writes into
DIR/figures:
  eps.png       eps(t) = ||y - y_hat|| / ||y|| per model: mean over trajectories and +- one std
  fields.png    1-D: space-time diagrams (x across, t up): the data, then for each learned or baseline
                model its prediction and its error y_hat - y. 2-D: the same as snapshots at the first,
                middle and last time
  spectra.png   energy spectra |u_hat(k)|^2 of the data and of each prediction at the last time and
                averaged over time (2-D: summed over shells |k| = k)
  statistics.png  (with evaluate-msde -evaluate_msde_statistics: /stats) the long-run statistics of the
                data and of each learned model's samples: time-mean energy spectrum (the coarse grid's
                resolved wavenumbers shaded), PDF of u, time ACF
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom evaluate-msde -data runs/kdv/data.h5 -model runs/kdv/model.h5 -output runs/kdv/eval_msde
    $ /usr/bin/python3 tools/plot_msde.py runs/kdv/eval_msde
    figure: runs/kdv/eval_msde/figures/eps.png
    figure: runs/kdv/eval_msde/figures/fields.png
    figure: runs/kdv/eval_msde/figures/spectra.png
"""
import os
import sys

from msrom_plot import PROG, InputError, directory_args, h5py, load_metrics, np, plt, run, save  # noqa: F401

LABELS = {"coarse_dns": "coarse DNS", "dmd": "DMD", "pod_sindy": "POD-SINDy", "implicit_scale": "implicit-scale",
          "multiscale": "multiscale", "reconstruction": "multiscale: decode(encode(y))",
          "noise_floor": "observation noise floor"}
ORDER = ["coarse_dns", "dmd", "pod_sindy", "implicit_scale", "multiscale"]


def read(path):
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            for k in ("time", "eps", "fields/truth"):
                if k not in f:
                    raise InputError(f"{path}: no /{k} (not written by msrom evaluate-msde)")
            t = np.asarray(f["time"][()])
            eps = {k: np.asarray(f["eps"][k][()]) for k in f["eps"]}
            fields = {k: np.asarray(f["fields"][k][()]) for k in f["fields"]}
            comps = [c.decode() if isinstance(c, bytes) else str(c)
                     for c in np.atleast_1d(f["fields"].attrs.get("components", ["u"]))]
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: not readable ({str(e).splitlines()[0]})")
    for k, e in eps.items():
        if e.ndim != 2 or e.shape[1] != t.size:
            raise InputError(f"{path}: /eps/{k} is not [trajectories, {t.size}]")
    if len(comps) > 1:  # [nt, C, nx(, ny)]: the figures show the first component
        for k, u in fields.items():
            if u.ndim < 3 or u.shape[1] != len(comps):
                raise InputError(f"{path}: /fields/{k} has no axis of the {len(comps)} components {comps}")
        fields = {k: u[:, 0] for k, u in fields.items()}
    shape = fields["truth"].shape
    for k, u in fields.items():
        if u.ndim not in (2, 3) or u.shape[0] != t.size or u.shape != shape:
            raise InputError(f"{path}: /fields/{k} is not [{t.size}, nx] or [{t.size}, nx, ny] like /fields/truth")
    return t, eps, fields, (comps[0] if len(comps) > 1 else "")


def names(d):
    return [k for k in ORDER if k in d] + sorted(k for k in d if k not in ORDER and k != "truth")


def plot_eps(t, eps, metrics, out):
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, k in enumerate(names(eps)):
        e = eps[k]
        mean, std = np.nanmean(e, axis=0), np.nanstd(e, axis=0)
        m = metrics.get(f"eps_mean.{k}")
        label = LABELS.get(k, k) + (f" ({m:.3f})" if isinstance(m, (int, float)) else "")
        color, ls = {"reconstruction": (f"C{i}", "--"), "noise_floor": ("k", ":")}.get(k, (f"C{i}", "-"))
        ax.plot(t, mean, color=color, lw=1.6, ls=ls, label=label)
        ax.fill_between(t, mean - std, mean + std, color=color, alpha=0.15)
    ax.set_xlabel("t")
    ax.set_ylabel("eps(t) = ||y - y_hat|| / ||y||")
    ax.set_yscale("log")
    ax.set_title(f"error versus time, {next(iter(eps.values())).shape[0]} trajectories (mean +- std)", fontsize=10)
    ax.legend(fontsize=8)
    save(fig, os.path.join(out, "eps.png"), tight=True)


def plot_fields_2d(t, fields, out, component=""):
    # Snapshots at three times (columns): the data, then each model's prediction and its error (rows).
    truth = fields["truth"]
    models = names(fields)
    times = sorted({0, truth.shape[0] // 2, truth.shape[0] - 1})
    rows = 1 + 2 * len(models)
    fig, axes = plt.subplots(rows, len(times), figsize=(2.4 * len(times), 2.2 * rows), squeeze=False)
    lim = np.nanmax(np.abs(truth)) or 1.0
    kw = dict(origin="lower", cmap="RdBu_r", vmin=-lim, vmax=lim)
    pre = f"{component}, " if component else ""  # several components: the one drawn
    panels = [(f"{pre}data", truth)]
    for k in models:
        panels += [(f"{pre}{LABELS.get(k, k)}", fields[k]), (f"{pre}{LABELS.get(k, k)}: error", fields[k] - truth)]
    for r, (title, u) in enumerate(panels):
        for c, n in enumerate(times):
            ax = axes[r, c]
            ax.imshow(u[n].T, **kw)  # [nx, ny]: x across, y up
            ax.set_title(f"{title}, t = {t[n]:.3g}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
    save(fig, os.path.join(out, "fields.png"), tight=True)


def plot_fields(t, fields, out, component=""):
    if fields["truth"].ndim == 3:
        return plot_fields_2d(t, fields, out, component)
    truth = fields["truth"]
    models = names(fields)
    rows = 1 + len(models)
    fig, axes = plt.subplots(rows, 2, figsize=(8, 2.0 * rows), squeeze=False)
    x = np.arange(truth.shape[1])
    lim = np.nanmax(np.abs(truth)) or 1.0
    ext = [x[0], x[-1], t[0], t[-1]]
    axes[0, 0].imshow(truth, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[0, 0].set_title("data", fontsize=9)
    axes[0, 1].axis("off")
    for r, k in enumerate(models, start=1):
        u = fields[k]
        axes[r, 0].imshow(u, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[r, 0].set_title(f"{LABELS.get(k, k)}: prediction", fontsize=9)
        axes[r, 1].imshow(u - truth, origin="lower", aspect="auto", extent=ext, cmap="RdBu_r", vmin=-lim, vmax=lim)
        axes[r, 1].set_title(f"{LABELS.get(k, k)}: error", fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("t")
    for ax in axes[-1, :]:
        ax.set_xlabel("grid point")
    save(fig, os.path.join(out, "fields.png"), tight=True)


def spectrum(u):
    # u [nt, nx]: |u_hat(k)|^2 / nx^2 per time, k = 0..nx/2. u [nt, nx, ny]: the shell sum over
    # round(|k|) = k of |u_hat(kx, ky)|^2 / (nx ny)^2, k = 0..min(nx, ny)/2.
    u = np.nan_to_num(u)
    if u.ndim == 2:
        return np.abs(np.fft.rfft(u, axis=1)) ** 2 / u.shape[1] ** 2
    nx, ny = u.shape[1:]
    e = np.abs(np.fft.fft2(u, axes=(1, 2))) ** 2 / (nx * ny) ** 2
    kx, ky = np.meshgrid(np.fft.fftfreq(nx, 1.0 / nx), np.fft.fftfreq(ny, 1.0 / ny), indexing="ij")
    shell = np.rint(np.hypot(kx, ky)).astype(int).ravel()
    kmax = min(nx, ny) // 2
    out = np.zeros((u.shape[0], kmax + 1))
    flat = e.reshape(u.shape[0], -1)
    for k in range(kmax + 1):
        out[:, k] = flat[:, shell == k].sum(axis=1)
    return out


def plot_spectra(fields, out):
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for i, k in enumerate(["truth"] + names(fields)):
        s = spectrum(fields[k])
        kk = np.arange(1, s.shape[1])
        style = dict(color="k", lw=2.0) if k == "truth" else dict(color=f"C{i - 1}", lw=1.0)
        label = "data" if k == "truth" else LABELS.get(k, k)
        axes[0].loglog(kk, s[-1, 1:] + 1e-300, label=label, **style)
        axes[1].loglog(kk, s[:, 1:].mean(axis=0) + 1e-300, label=label, **style)
    axes[0].set_title("energy spectrum, last time", fontsize=9)
    axes[1].set_title("energy spectrum, time average", fontsize=9)
    for ax in axes:
        ax.set_xlabel("wavenumber k")
        ax.set_ylabel("|u_hat(k)|^2")
    axes[1].legend(fontsize=7)
    save(fig, os.path.join(out, "spectra.png"), tight=True)


def read_stats(path):
    # /stats/{data,<model>}/{spectrum,pdf,acf}, /stats/pdf_grid; None without /stats.
    with h5py.File(path, "r") as f:
        if "stats" not in f:
            return None
        g = f["stats"]
        try:
            out = {"grid": np.asarray(g["pdf_grid"][()]), "dt": float(g.attrs["dt"]),
                   "resolved": int(g.attrs["resolved"]), "sets": {}}
            for k in g:
                if isinstance(g[k], h5py.Group):
                    out["sets"][k] = {q: np.asarray(g[k][q][()]) for q in ("spectrum", "pdf", "acf")}
        except (KeyError, ValueError, TypeError) as e:
            raise InputError(f"{path}: /stats not readable ({str(e).splitlines()[0]})")
    return out


def plot_stats(st, metrics, out):
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6))
    keys = ["data"] + [k for k in ORDER if k in st["sets"]]
    for i, k in enumerate(keys):
        d = st["sets"][k]
        style = dict(color="k", lw=2.0) if k == "data" else dict(color=f"C{i + 2}", lw=1.0)
        label = "data" if k == "data" else LABELS.get(k, k)
        if k != "data":
            se = metrics.get(f"stats_spectrum_error.{k}")
            kl = metrics.get(f"stats_kl_pdf.{k}")
            if se is not None and kl is not None:
                label += f" (spectrum {se:.3f}, KL {kl:.4f})"
        kk = np.arange(1, d["spectrum"].size)
        axes[0].loglog(kk, d["spectrum"][1:] + 1e-300, label=label, **style)
        axes[1].plot(st["grid"], d["pdf"], label=label, **style)
        axes[2].plot(np.arange(d["acf"].size) * st["dt"], d["acf"], label=label, **style)
    axes[0].axvspan(1, st["resolved"], color="0.9", zorder=0)
    axes[0].set_title("time-mean energy spectrum (shaded: resolved)", fontsize=9)
    axes[0].set_xlabel("wavenumber k")
    axes[0].set_ylabel("|u_hat(k)|^2")
    axes[1].set_title("PDF of u", fontsize=9)
    axes[1].set_xlabel("u")
    axes[2].set_title("time ACF of u (per point)", fontsize=9)
    axes[2].set_xlabel("lag")
    axes[0].legend(fontsize=7)
    save(fig, os.path.join(out, "statistics.png"), tight=True)


def main():
    a = directory_args("Figures of msrom evaluate-msde.", "the -output directory of msrom evaluate-msde")
    out = a.out or os.path.join(a.dir, "figures")
    t, eps, fields, component = read(os.path.join(a.dir, "msde_eval.h5"))
    metrics = load_metrics(os.path.join(a.dir, "metrics.json"))
    os.makedirs(out, exist_ok=True)
    plot_eps(t, eps, metrics, out)
    plot_fields(t, fields, out, component)
    plot_spectra(fields, out)
    st = read_stats(os.path.join(a.dir, "msde_eval.h5"))
    if st is not None:
        plot_stats(st, metrics, out)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
