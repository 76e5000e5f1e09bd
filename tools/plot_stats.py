#!/usr/bin/python3
"""Draw the statistics of an msrom run directory as PNG figures.

Reads DIR/stats.h5 (required), DIR/metrics.json and DIR/data.h5 (optional) and
writes pdf.png, acf.png, residence.png and timeseries.png. Needs Debian's
python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom pipeline -options_file_yaml inputs/bistable_ci.yaml -output /tmp/run
    $ /usr/bin/python3 tools/plot_stats.py /tmp/run
    figure: /tmp/run/figures/pdf.png
    figure: /tmp/run/figures/acf.png
    figure: /tmp/run/figures/residence.png
    figure: /tmp/run/figures/timeseries.png
"""
import os
import sys

from msrom_plot import InputError, PROG, directory_args, h5py, load_metrics, np, plt, run, save  # noqa: F401




def load_stats(path):
    """Everything in stats.h5: (names, model, threshold, {name: {key: array or float}})."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            def need(obj, key, what="entry"):
                where = obj if what == "entry" else obj.attrs
                if key not in where:
                    raise InputError(f"{path}: malformed, no {what} {key!r} on {obj.name}")
                return where[key]

            names = [n.decode() if isinstance(n, bytes) else str(n)
                     for n in np.atleast_1d(need(f, "names", "attribute"))]
            model = str(f.attrs.get("model", "data"))
            opts = str(f.attrs.get("options", "")).split()  # "... -stats_threshold 0.7 ..."
            i = opts.index("-stats_threshold") if "-stats_threshold" in opts else -1
            threshold = float(opts[i + 1]) if 0 <= i < len(opts) - 1 else 0.7
            out = {}
            for v in names:
                g = need(f, v)
                d = out[v] = {k: np.atleast_1d(need(g, k)[()]).astype(float)
                              for k in ("pdf/grid", "pdf/histogram", "pdf/kde", "acf/lag", "acf/rho")}
                d["tau_int"] = float(need(g["acf/rho"], "tau_int", "attribute"))
                d["bandwidth"] = float(need(g["pdf/kde"], "bandwidth", "attribute"))
                if "residence_times" in g:
                    d["residence_times"] = np.atleast_1d(g["residence_times"][()]).astype(float)
                n = len(d["pdf/grid"])
                if n < 2 or len(d["pdf/histogram"]) != n or len(d["pdf/kde"]) != n \
                        or len(d["acf/lag"]) != len(d["acf/rho"]):
                    raise InputError(f"{path}: malformed, /{v}/pdf or /{v}/acf arrays differ in length")
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise InputError(f"{path}: not a readable stats file ({str(e).splitlines()[0]})")
    if not names:
        raise InputError(f"{path}: malformed, attribute 'names' is empty")
    return names, model, threshold, out




def fmt(x):
    return "n/a" if x is None else f"{x:.4g}"


def plot_pdf(names, st, metric, path):
    fig, axes = plt.subplots(1, len(names), figsize=(5.5 * len(names), 4), squeeze=False)
    for ax, v in zip(axes[0], names):
        s = st[v]
        # Grid points are bin centres; average groups of bins so at most ~128 remain.
        grid, hist = s["pdf/grid"], s["pdf/histogram"]
        k = max(1, len(grid) // 128)
        m = len(grid) // k * k
        dx = grid[1] - grid[0]
        edges = np.append(grid[:m:k] - dx / 2, grid[m - 1] + dx / 2)
        ax.stairs(hist[:m].reshape(-1, k).mean(1), edges, fill=True, alpha=0.35, color="C0",
                  label="histogram" + (f" ({k} bins merged)" if k > 1 else ""))
        ax.plot(s["pdf/grid"], s["pdf/kde"], "C1", lw=1.5, label=f"KDE (bandwidth {s['bandwidth']:.3g})")
        ax.plot([], [], " ", label=f"std {fmt(metric(v, 'std'))}, kurtosis {fmt(metric(v, 'kurtosis'))}")
        ax.set(xlabel=v, ylabel="probability density", title=f"PDF of {v}")
        ax.legend(fontsize="small", loc="upper center")
    save(fig, path, tight=True)


def plot_acf(names, st, path):
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for v in names:
        ax.plot(st[v]["acf/lag"], st[v]["acf/rho"], label=f"{v}: tau_int = {st[v]['tau_int']:.4g} time units")
    ax.axhline(0, color="k", lw=0.8)
    ax.set(xlabel="lag (time units)", ylabel="autocorrelation rho", title="Autocorrelation function")
    ax.legend()
    save(fig, path, tight=True)


def plot_residence(v, res, path):
    mean = res.mean()
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.hist(res, bins=min(40, max(5, len(res) // 8)), density=True, alpha=0.5, label=f"{len(res)} residence times")
    t = np.linspace(0, res.max(), 200)
    ax.plot(t, np.exp(-t / mean) / mean, "C3", label="exp(-t/mean)/mean")
    ax.axvline(mean, color="k", ls="--", label=f"mean = {mean:.4g} time units")
    ax.set_yscale("log")
    ax.set(xlabel="residence time (time units)", ylabel="probability density", title=f"Residence times of {v}")
    ax.legend()
    save(fig, path, tight=True)


def plot_timeseries(data_path, window, threshold, path):
    with h5py.File(data_path, "r") as f:
        state, time = f["state"], f["time"]
        names = np.atleast_1d(state.attrs.get("names", ["x"]))
        name = names[0].decode() if isinstance(names[0], bytes) else str(names[0])
        t2 = time[:2]
        dt = float(t2[1] - t2[0]) if len(t2) > 1 else 1.0
        n = int(min(time.shape[0], max(2, round(window / dt))))
        t = time[:n]  # only the slab needed: the file can be GBs
        x = state[0, :n, 0] if state.ndim == 3 else state[:n, 0] if state.ndim == 2 else state[:n]
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.plot(t, x, lw=0.6, label=f"{name}, member 0")
    for y in (threshold, -threshold):
        ax.axhline(y, color="C3", ls="--", lw=0.9, label=f"±{threshold:g} threshold" if y > 0 else None)
    ax.set(xlabel="time (time units)", ylabel=name, title=f"Time series, first {t[-1] - t[0]:.4g} time units")
    ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1), fontsize="small")
    save(fig, path, tight=True)


def main():
    a = directory_args("Draw the statistics of an msrom run directory as PNGs.",
                       "run directory holding stats.h5 (metrics.json, data.h5 optional)")
    names, model, threshold, st = load_stats(os.path.join(a.dir, "stats.h5"))
    metrics = load_metrics(os.path.join(a.dir, "metrics.json"))
    # The primary variable is the one with residence times (else the first name).
    primary = next((v for v in names if "residence_times" in st[v]), names[0])

    def metric(v, key):
        val = metrics.get(f"{key}.{model}" + ("" if v == primary else f".{v}"))
        return float(val) if isinstance(val, (int, float)) else None

    out = a.out or os.path.join(a.dir, "figures")
    os.makedirs(out, exist_ok=True)
    plot_pdf(names, st, metric, os.path.join(out, "pdf.png"))
    plot_acf(names, st, os.path.join(out, "acf.png"))
    res = st[primary].get("residence_times", np.empty(0))
    res = res[np.isfinite(res) & (res >= 0)]
    if len(res) < 2 or res.mean() <= 0:
        print(f"note: residence.png skipped: {len(res)} residence times of {primary}")
    else:
        plot_residence(primary, res, os.path.join(out, "residence.png"))
    data = os.path.join(a.dir, "data.h5")
    if os.path.exists(data):
        # ~15 mean residence times show 10-20 transitions; 500 time units if unknown.
        mean = metric(primary, "residence_time")
        window = 15 * mean if mean is not None and 0 < mean < 1e9 else 500.0
        try:
            plot_timeseries(data, window, threshold,
                            os.path.join(out, "timeseries.png"))
        except (OSError, KeyError, ValueError, IndexError, TypeError) as e:
            print(f"{PROG}: note: timeseries.png skipped: {data}: {str(e).splitlines()[0]}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
