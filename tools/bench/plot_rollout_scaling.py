#!/usr/bin/python3
"""Parallel efficiency of domain-decomposed rollouts, 1 -> 2 ranks, as bars (docs/performance.md).

    CSV=runs/rollout_scaling.csv tools/bench/bench_rollout_scaling.sh 2048x2048 1 3   # appends 4 rows
    /usr/bin/python3 tools/bench/plot_rollout_scaling.py runs/rollout_scaling.csv [--out scaling.png]

Input: the rows bench_rollout_scaling.sh appends (cells,config,ranks,seconds,efficiency; config one,
strong, weak or ensemble), one group of bars per mesh in file order (a mesh measured twice: the last
measurement). The issue's targets are drawn as lines: strong >= 80%, weak >= 90%; the ensemble bar
(two members, no communication) is the machine's ceiling for the weak run.
"""
import argparse
import csv
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from msrom_plot import InputError, plt, run, save  # noqa: E402

CONFIGS = [("strong", "strong: t1 / (2 t2)", "tab:blue", 0.80),
           ("weak", "weak: t1 / t2", "tab:orange", 0.90),
           ("ensemble", "2 members, no messages", "tab:gray", None)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv", help="rows of bench_rollout_scaling.sh (CSV=FILE)")
    ap.add_argument("--out", help="PNG to write (default: beside the CSV, rollout_scaling.png)")
    a = ap.parse_args()
    meshes, eff = [], {}
    with open(a.csv, newline="") as f:
        r = csv.DictReader(f)
        need = {"cells", "config", "efficiency"}
        if not r.fieldnames or not need <= set(r.fieldnames):
            raise InputError(f"{a.csv}: not a bench_rollout_scaling.sh CSV (needs columns {', '.join(sorted(need))})")
        for row in r:
            c = row["cells"]
            if c not in meshes:
                meshes.append(c)
            try:
                eff[(c, row["config"])] = float(row["efficiency"])
            except (TypeError, ValueError):  # TypeError: a short row (no efficiency field)
                raise InputError(f"{a.csv}: line {r.line_num}: efficiency '{row['efficiency']}' is not a number")
    if not meshes:
        raise InputError(f"{a.csv}: no rows")
    fig, ax = plt.subplots(figsize=(1.6 + 2.2 * len(meshes), 3.6))
    w = 0.8 / len(CONFIGS)
    for j, (cfg, label, colour, target) in enumerate(CONFIGS):
        xs = [i + (j - 1) * w for i, m in enumerate(meshes) if (m, cfg) in eff]
        ys = [100 * eff[(m, cfg)] for m in meshes if (m, cfg) in eff]
        bars = ax.bar(xs, ys, w, label=label, color=colour)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
        if target is not None:
            ax.axhline(100 * target, color=colour, ls="--", lw=1)
    ax.set_xticks(range(len(meshes)))
    ax.set_xticklabels([m.replace("x", " x ") + (" cells" if "x" in m else " cells (1-D)") for m in meshes])
    ax.set_ylabel("parallel efficiency, 1 -> 2 ranks (%)")
    ax.set_ylim(0, 115)
    ax.set_title("local multiscale model rollouts (dashed: targets)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    save(fig, a.out or os.path.join(os.path.dirname(os.path.abspath(a.csv)), "rollout_scaling.png"), tight=True)
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
