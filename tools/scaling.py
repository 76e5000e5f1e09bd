#!/usr/bin/python3
"""Scaling studies of msrom: timings -> a table and PNG plots of parallel efficiency versus ranks.

    /usr/bin/python3 tools/scaling.py runs/scaling            # reads runs/scaling/*.log, writes beside them
    /usr/bin/python3 tools/scaling.py runs/scaling --cores 2  # ranks beyond 2 are marked oversubscribed

Input: the logs that job_scripts/scaling.sbatch writes, one per run, named STUDY_KERNEL_npP_rR.log
(study strong|weak, kernel ensemble|pde, P ranks, repeat R), each holding msrom's own timing line

    ensemble: double_well, 2000 members x 2000 steps on 2 ranks in 0.41 s: ...
    simulate: burgers2d, 1 trajectories (1/0/0) x 2 snapshots of 512 x 512 points, ..., in 3.10 s -> ...

and, if present, PETSc's -log_view summary beside it (STUDY_KERNEL_npP_rR.logview: MPI message count and
bytes, TS steps). The fastest repeat of each point counts. machine.txt (from the job) gives the cores.

Output (in the same directory): scaling.csv, scaling.md (the table) and scaling.png (efficiency versus
ranks, one panel per study; oversubscribed points hollow, right of a dotted line at the core count).
Strong-scaling efficiency is T(1) / (P T(P)), weak-scaling efficiency T(1) / T(P).
"""
import argparse
import csv
import glob
import os
import re
import sys

ENSEMBLE = re.compile(r"ensemble: (\S+), (\d+) members x (\d+) steps on (\d+) ranks in ([0-9.eE+-]+) s")
SIMULATE = re.compile(r"simulate: (\S+), .* snapshots of (\d+)(?: x (\d+))? points, .*?, (\d+) TS steps each, "
                      r"(\d+) group\(s\) of (\d+) rank\(s\), in ([0-9.eE+-]+) s")
NAME = re.compile(r"(strong|weak)_(ensemble|pde)_np(\d+)_r(\d+)\.log$")


def logview(path):
    """MPI messages and bytes (summed over ranks) and TS steps from a PETSc -log_view summary."""
    out = {}
    if not os.path.exists(path):
        return out
    for line in open(path, errors="replace"):
        f = line.split()
        if line.startswith("MPI Msg Count:") or line.startswith("MPI Messages:"):
            out["messages"] = float(f[-1])
        elif line.startswith("MPI Msg Len (bytes):") or line.startswith("MPI Message Lengths:"):
            out["bytes"] = float(f[-1])
        elif f and f[0] == "TSStep" and len(f) > 1:
            out["ts_steps"] = float(f[1])
    return out


def read_runs(d):
    best = {}
    for path in sorted(glob.glob(os.path.join(d, "*.log"))):
        m = NAME.search(os.path.basename(path))
        if not m:
            continue
        study, kernel, np_ = m.group(1), m.group(2), int(m.group(3))
        text = open(path, errors="replace").read()
        row = None
        e = ENSEMBLE.search(text)
        s = SIMULATE.search(text)
        if kernel == "ensemble" and e:
            members, steps, ranks, sec = int(e.group(2)), int(e.group(3)), int(e.group(4)), float(e.group(5))
            row = dict(size=f"{members} members x {steps} steps", work=members * steps, unit="member-steps",
                       ranks=ranks, seconds=sec)
        elif kernel == "pde" and s:
            nx, ny = int(s.group(2)), int(s.group(3) or 1)
            steps, ranks, sec = int(s.group(4)), int(s.group(5)) * int(s.group(6)), float(s.group(7))
            row = dict(size=f"{nx} x {ny} mesh, {steps} steps", work=nx * ny * steps, unit="point-steps",
                       ranks=ranks, seconds=sec)
        if row is None:
            print(f"scaling: no timing line in {path}", file=sys.stderr)
            continue
        if row["ranks"] != np_:
            print(f"scaling: {path} ran on {row['ranks']} ranks, not {np_}", file=sys.stderr)
        row.update(study=study, kernel=kernel)
        row.update(logview(path[:-4] + ".logview"))
        key = (study, kernel, row["ranks"])
        if key not in best or row["seconds"] < best[key]["seconds"]:
            best[key] = row
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir")
    ap.add_argument("--cores", type=int, default=0, help="cores of the node (default: machine.txt, else this machine)")
    a = ap.parse_args()
    cores = a.cores
    mt = os.path.join(a.dir, "machine.txt")
    machine = " ".join(open(mt).read().split()) if os.path.exists(mt) else ""
    if not cores and machine:
        m = re.search(r"cores=(\d+)", machine)
        cores = int(m.group(1)) if m else 0
    cores = cores or os.cpu_count()
    best = read_runs(a.dir)
    if not best:
        sys.exit(f"scaling: no timings in {a.dir}/*.log")

    rows = []
    for (study, kernel, ranks) in sorted(best):
        r = best[(study, kernel, ranks)]
        base = best.get((study, kernel, 1))
        if base is None:
            base = best[min(k for k in best if k[0] == study and k[1] == kernel)]
        p0 = base["ranks"]
        if study == "strong":
            eff = base["seconds"] * p0 / (r["seconds"] * ranks)
        else:
            eff = base["seconds"] / r["seconds"]
        r.update(efficiency=eff, speedup=base["seconds"] / r["seconds"], rate=r["work"] / r["seconds"],
                 oversubscribed=ranks > cores)
        if "bytes" in r and r.get("ts_steps"):
            r["bytes_per_step"] = r["bytes"] / r["ts_steps"]
        rows.append(r)

    fields = ["study", "kernel", "ranks", "oversubscribed", "size", "seconds", "speedup", "efficiency", "rate", "unit",
              "messages", "bytes", "ts_steps", "bytes_per_step"]
    with open(os.path.join(a.dir, "scaling.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)

    lines = [f"Scaling on {cores} cores (ranks > {cores} oversubscribed, marked *). Fastest of the repeats."]
    if machine:
        lines.append(f"Machine: {machine}")
    lines += ["",
             "| study | kernel | ranks | problem | time (s) | speedup | efficiency | rate | MPI bytes/step |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        bps = f"{r['bytes_per_step']:.3g}" if "bytes_per_step" in r else "-"
        lines.append(f"| {r['study']} | {r['kernel']} | {r['ranks']}{'*' if r['oversubscribed'] else ''} | {r['size']} | "
                     f"{r['seconds']:.3g} | {r['speedup']:.2f} | {r['efficiency']:.2f} | {r['rate']:.3g} {r['unit']}/s | "
                     f"{bps} |")
    table = "\n".join(lines) + "\n"
    open(os.path.join(a.dir, "scaling.md"), "w").write(table)
    print(table)

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    studies = sorted({r["study"] for r in rows})
    fig, axes = plt.subplots(1, len(studies), figsize=(5.5 * len(studies), 4), squeeze=False)
    for ax, study in zip(axes[0], studies):
        for kernel, colour in (("ensemble", "tab:blue"), ("pde", "tab:orange")):
            rs = [r for r in rows if r["study"] == study and r["kernel"] == kernel]
            if not rs:
                continue
            ax.plot([r["ranks"] for r in rs], [r["efficiency"] for r in rs], "-", color=colour, label=kernel)
            for r in rs:
                ax.plot(r["ranks"], r["efficiency"], "o", color=colour,
                        markerfacecolor="none" if r["oversubscribed"] else colour)
        ax.axvline(cores + 0.5, color="grey", linestyle=":", label=f"{cores} cores (beyond: oversubscribed)")
        ax.axhline(1.0, color="black", linewidth=0.5)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("MPI ranks")
        ax.set_ylabel("parallel efficiency")
        ax.set_ylim(0, 1.2)
        ax.set_title(f"{study} scaling" + (" (T1 / (P TP))" if study == "strong" else " (T1 / TP)"))
        ax.legend(fontsize=8)
    fig.tight_layout()
    png = os.path.join(a.dir, "scaling.png")
    fig.savefig(png, dpi=120)
    print(f"scaling: {os.path.join(a.dir, 'scaling.md')}, {png}")


if __name__ == "__main__":
    main()
