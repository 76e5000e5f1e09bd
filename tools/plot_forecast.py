#!/usr/bin/python3
"""Draw the figures of `msrom forecast`: skill against lead time, example transitions, the forcing check.

Reads FILE (forecast.h5) and writes into FILE's directory/figures (or --out):
  forecast_skill.png      hit rate (members and ensemble mean), RMSE and timing error against the lead time
                          (in Lyapunov times) for the hybrid ROM, the Langevin ROM and the NODE on x
  forecast_examples.png   example transitions: the truth, every member and the ensemble mean of each model
  forecast_residual.png   PDF and ACF of the validation residual r_hat against free runs of the NODEs
Needs Debian's python3-h5py, python3-matplotlib and python3-numpy, hence /usr/bin/python3.

Sample run:
    $ msrom forecast -data data.h5 -model model.h5 -output fc/forecast.h5 -forecast_figures 0
    $ /usr/bin/python3 tools/plot_forecast.py fc/forecast.h5
    figure: fc/figures/forecast_skill.png
    figure: fc/figures/forecast_examples.png
    figure: fc/figures/forecast_residual.png
"""
import argparse
import os
import sys

from msrom_plot import PROG, InputError, h5py, np, plt, run, save  # noqa: F401

MODELS = [("hybrid", "hybrid (Langevin + NODE forcing)", "C0"), ("langevin", "Langevin (white noise)", "C1"),
          ("node_x", "NODE on delay-embedded x", "C2")]


def read(path):
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such file")
    try:
        with h5py.File(path, "r") as f:
            if "skill" not in f or "leads" not in f:
                raise InputError(f"{path}: no /skill or /leads (not written by msrom forecast)")
            d = {"leads": np.asarray(f["leads"][()], dtype=float),
                 "lyap": float(f["leads"].attrs["lyapunov_time"]),
                 "tol": float(f["leads"].attrs["tolerance"]),
                 "transitions": len(f["transitions/time"]) if "transitions/time" in f else 0}
            for m, _, _ in MODELS:
                for q in ("hit_rate", "hit_rate_mean", "rmse", "timing_error"):
                    d[f"{m}/{q}"] = np.asarray(f[f"skill/{m}/{q}"][()], dtype=float)
            if "examples/time" in f:
                d["ex_time"] = np.asarray(f["examples/time"][()], dtype=float)
                d["ex_lead"] = float(f["examples/time"].attrs["lead"])
                d["ex_truth"] = np.asarray(f["examples/truth"][()], dtype=float)
                for m, _, _ in MODELS:
                    d[f"ex/{m}"] = np.asarray(f[f"examples/{m}"][()], dtype=float)
            for k in ("grid", "pdf_data", "pdf_node", "lag", "acf_data", "acf_node"):
                d[f"res/{k}"] = np.asarray(f[f"residual/{k}"][()], dtype=float)
            return d
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise InputError(f"{path}: not readable ({str(e).splitlines()[0]})")


def plot_skill(d, out):
    x = d["leads"] / d["lyap"]
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    for m, label, c in MODELS:
        axes[0].plot(x, d[f"{m}/hit_rate"], "o-", color=c, label=label)
        axes[0].plot(x, d[f"{m}/hit_rate_mean"], "s--", color=c, alpha=0.6, ms=4)
        axes[1].plot(x, d[f"{m}/rmse"], "o-", color=c, label=label)
        axes[2].plot(x, d[f"{m}/timing_error"], "o-", color=c, label=label)
    axes[0].set_ylabel(f"hit rate (crossing within {d['tol']:.3g} t)")
    axes[0].set_title("hit rate: members (solid), ensemble mean (dashed)", fontsize=9)
    axes[1].set_ylabel("RMSE of u over the window")
    axes[2].set_ylabel("mean |t_cross - t_true| of crossing members")
    for ax in axes:
        ax.set_xlabel(f"lead time / Lyapunov time ({d['lyap']:.3g})")
        ax.set_xscale("log")
        ax.grid(alpha=0.3)
    axes[0].set_ylim(-0.02, 1.02)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"transition forecasts: {d['transitions']} validation transitions", fontsize=10)
    save(fig, os.path.join(out, "forecast_skill.png"), tight=True)


def plot_examples(d, out):
    if "ex_time" not in d or d["ex_truth"].shape[0] == 0:
        return
    X = d["ex_truth"].shape[0]
    fig, axes = plt.subplots(len(MODELS), X, figsize=(3.2 * X, 2.4 * len(MODELS)), squeeze=False)
    t = d["ex_time"]
    for j, (m, label, c) in enumerate(MODELS):
        ens = d[f"ex/{m}"]
        for x in range(X):
            ax = axes[j][x]
            for e in range(ens.shape[1]):
                ax.plot(t, ens[x, e], color=c, lw=0.4, alpha=0.35)
            ax.plot(t, ens[x].mean(axis=0), color=c, lw=1.6)
            ax.plot(t, d["ex_truth"][x], color="k", lw=1.4)
            ax.axvline(0, color="0.5", lw=0.8, ls=":")
            ax.axhline(0, color="0.5", lw=0.5)
            if x == 0:
                ax.set_ylabel(f"{m}\nu (normalised)", fontsize=8)
            if j == len(MODELS) - 1:
                ax.set_xlabel("t - t_transition")
    fig.suptitle(f"example transitions from {d['ex_lead'] / d['lyap']:.3g} Lyapunov times ahead: truth (black), "
                 "members (thin), ensemble mean (thick)", fontsize=9)
    save(fig, os.path.join(out, "forecast_examples.png"), tight=True)


def plot_residual(d, out):
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    g = d["res/grid"]
    axes[0].semilogy(g, np.maximum(d["res/pdf_data"], 1e-6), "k-", label="validation residual")
    axes[0].semilogy(g, np.maximum(d["res/pdf_node"], 1e-6), "C0--", label="NODE free runs")
    axes[0].set_xlabel("r_hat")
    axes[0].set_ylabel("PDF")
    axes[0].legend(fontsize=8)
    axes[1].plot(d["res/lag"], d["res/acf_data"], "k-", label="validation residual")
    axes[1].plot(d["res/lag"], d["res/acf_node"], "C0--", label="NODE free runs")
    axes[1].axhline(0, color="0.5", lw=0.5)
    axes[1].set_xlabel("lag (time)")
    axes[1].set_ylabel("ACF of r_hat")
    axes[1].legend(fontsize=8)
    save(fig, os.path.join(out, "forecast_residual.png"), tight=True)


def main():
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    ap.add_argument("file", metavar="FILE", help="forecast.h5 written by msrom forecast")
    ap.add_argument("--out", metavar="FIGDIR", help="where to write the figures (default FILE's dir/figures)")
    a = ap.parse_args()
    d = read(a.file)
    out = a.out or os.path.join(os.path.dirname(os.path.abspath(a.file)), "figures")
    os.makedirs(out, exist_ok=True)
    plot_skill(d, out)
    plot_examples(d, out)
    plot_residual(d, out)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
