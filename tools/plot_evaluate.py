#!/usr/bin/python3
"""Draw the comparison of models against the data written by `msrom evaluate` as PNG figures.

Reads DIR/evaluate.h5 (required) and DIR/metrics.json (optional: KL, ACF error and residence-time ratio in
the legends) and writes DIR/figures/pdf_overlay.png (KDEs, linear and log scale), acf_overlay.png and
residence_overlay.png (residence-time distributions, log-y). Needs Debian's python3-h5py, python3-matplotlib and
python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom evaluate -data data.h5 -rollouts rollouts.h5 -output /tmp/eval -evaluate_figures false
    $ /usr/bin/python3 tools/plot_evaluate.py /tmp/eval
    figure: /tmp/eval/figures/pdf_overlay.png
    figure: /tmp/eval/figures/acf_overlay.png
    figure: /tmp/eval/figures/residence_overlay.png
"""
import os
import sys

from msrom_plot import InputError, directory_args, h5py, load_metrics, np, plt, run, save  # noqa: F401


def text(v):
    return v.decode() if isinstance(v, bytes) else str(v)


def load_evaluate(path):
    """evaluate.h5 as a dict: models (data first), variable, threshold, wells, grid, and per model
    kde, bandwidth, lag, rho, tau_int, residence_times."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            for key in ("models", "variable", "threshold"):
                if key not in f.attrs:
                    raise InputError(f"{path}: malformed, no root attribute {key!r}")
            models = [text(m) for m in np.atleast_1d(f.attrs["models"])]
            if not models or models[0] != "data":
                raise InputError(f"{path}: malformed, attribute 'models' does not start with 'data'")
            out = {"models": models, "variable": text(f.attrs["variable"]),
                   "threshold": float(f.attrs["threshold"]),
                   "wells": [float(w) for w in np.atleast_1d(f.attrs.get("wells", []))],
                   "train_fraction": float(f.attrs.get("train_fraction", 0.0)),
                   "grid": np.asarray(f["pdf/grid"][()], dtype=float), "per": {}}
            for m in models:
                for key in (f"pdf/{m}", f"acf/{m}/lag", f"acf/{m}/rho", f"residence_times/{m}"):
                    if key not in f:
                        raise InputError(f"{path}: malformed, no /{key}")
                rho = f[f"acf/{m}/rho"]
                out["per"][m] = {
                    "kde": np.asarray(f[f"pdf/{m}"][()], dtype=float),
                    "bandwidth": float(f[f"pdf/{m}"].attrs.get("bandwidth", np.nan)),
                    "lag": np.asarray(f[f"acf/{m}/lag"][()], dtype=float),
                    "rho": np.asarray(rho[()], dtype=float),
                    "tau_int": float(rho.attrs.get("tau_int", np.nan)),
                    "residence_times": np.atleast_1d(np.asarray(f[f"residence_times/{m}"][()], dtype=float)),
                }
                p = out["per"][m]
                if len(p["kde"]) != len(out["grid"]) or len(p["lag"]) != len(p["rho"]):
                    raise InputError(f"{path}: malformed, /pdf/{m} or /acf/{m} arrays differ in length")
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: not a readable evaluate file ({str(e).splitlines()[0]})")
    if len(out["grid"]) < 2:
        raise InputError(f"{path}: malformed, /pdf/grid has fewer than 2 points")
    return out


def style(i, model):
    """The data: thick black; the models: the colour cycle."""
    if model == "data":
        return {"color": "k", "lw": 2.2, "zorder": 3}
    return {"color": f"C{(i - 1) % 10}", "lw": 1.4, "zorder": 2}


def fmt(x):
    return "n/a" if not isinstance(x, (int, float)) or x != x else f"{x:.3g}"


def plot_pdf(ev, metrics, path):
    grid, var = ev["grid"], ev["variable"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.3))
    floor = 1e-5 * max(np.nanmax(ev["per"][m]["kde"]) for m in ev["models"])
    for i, m in enumerate(ev["models"]):
        kde = ev["per"][m]["kde"]
        label = "data" + (" (validation)" if ev["train_fraction"] > 0 else "") if m == "data" else \
            f"{m}: KL {fmt(metrics.get(f'kl.{m}'))}"
        for ax in axes:
            ax.plot(grid, kde if ax is axes[0] else np.where(kde > floor, kde, np.nan), label=label, **style(i, m))
    for ax, scale in zip(axes, ("linear", "log")):
        for b in ev["wells"] or [-ev["threshold"], ev["threshold"]]:
            ax.axvline(b, color="0.6", ls=":", lw=0.9)
        ax.set_yscale(scale)
        ax.set(xlabel=var, ylabel="probability density", title=f"PDF of {var} ({scale} scale)")
    axes[0].legend(fontsize="small", loc="upper center")
    axes[1].set_ylim(bottom=floor)
    save(fig, path, tight=True)


def plot_acf(ev, metrics, path):
    data = ev["per"]["data"]
    lag_max = max(p["lag"][-1] for p in ev["per"].values())
    # Show the decay: ~8 integrated times of the data (the tail is estimation noise around 0).
    tau = data["tau_int"]
    xmax = min(lag_max, 8 * tau) if tau == tau and tau > 0 else lag_max
    fig, ax = plt.subplots(figsize=(7, 4.3))
    for i, m in enumerate(ev["models"]):
        p = ev["per"][m]
        label = f"{m}: tau_int {fmt(p['tau_int'])}"
        if m != "data":
            label += f", ACF error {fmt(metrics.get(f'acf_error.{m}'))}"
        ax.plot(p["lag"], p["rho"], label=label, **style(i, m))
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlim(0, xmax)
    ax.set(xlabel="lag (time units)", ylabel="autocorrelation rho", title=f"Autocorrelation of {ev['variable']}")
    ax.legend(fontsize="small")
    save(fig, path, tight=True)


def plot_residence(ev, metrics, path):
    res = {m: r[np.isfinite(r) & (r >= 0)] for m, r in ((m, ev["per"][m]["residence_times"]) for m in ev["models"])}
    res = {m: r for m, r in res.items() if len(r) >= 2}
    if not res:
        print("note: residence_overlay.png skipped: fewer than 2 residence times for every series")
        return
    top = max(np.percentile(r, 99.5) for r in res.values())
    # Bins for the smallest sample: ~2 sqrt(n), 8 to 40.
    bins = np.linspace(0, top, int(np.clip(2 * np.sqrt(min(len(r) for r in res.values())), 8, 40)) + 1)
    fig, ax = plt.subplots(figsize=(7, 4.3))
    for i, m in enumerate(ev["models"]):
        if m not in res:
            continue
        r = res[m]
        label = f"{m}: mean {fmt(r.mean())} ({len(r)} times)"
        if m != "data":
            label += f", ratio {fmt(metrics.get(f'residence_time_ratio.{m}'))}"
        st = style(i, m)
        h, _ = np.histogram(np.clip(r, 0, top), bins=bins, density=True)
        ax.stairs(np.where(h > 0, h, np.nan), bins, label=label, color=st["color"], lw=st["lw"], zorder=st["zorder"])
        ax.axvline(r.mean(), color=st["color"], ls="--", lw=0.9)
    ax.set_yscale("log")
    ax.set(xlabel="residence time (time units; last bin holds the longest 0.5%)", ylabel="probability density",
           title=f"Residence times of {ev['variable']} (hysteresis |x| > {ev['threshold']:g})")
    ax.legend(fontsize="small")
    save(fig, path, tight=True)


def main():
    a = directory_args("Draw msrom evaluate's comparison as PNGs.",
                       "evaluate output directory holding evaluate.h5 (metrics.json optional)")
    ev = load_evaluate(os.path.join(a.dir, "evaluate.h5"))
    metrics = load_metrics(os.path.join(a.dir, "metrics.json"))
    out = a.out or os.path.join(a.dir, "figures")
    os.makedirs(out, exist_ok=True)
    plot_pdf(ev, metrics, os.path.join(out, "pdf_overlay.png"))
    plot_acf(ev, metrics, os.path.join(out, "acf_overlay.png"))
    plot_residence(ev, metrics, os.path.join(out, "residence_overlay.png"))
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
