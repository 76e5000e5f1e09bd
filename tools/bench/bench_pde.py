#!/usr/bin/python3
"""Benchmark of the field solvers (not a test): one KdV fine trajectory, msrom against SciPy's LSODA.

KdV (n = 1000, the paper's stencils, t in [0, 1], 1001 snapshots, member 0 of seed 1, no noise):
  msrom simulate with adaptive ARKIMEX 3 (-ts_adapt_type basic) at rtol = atol = TOL, and
  scipy.integrate.solve_ivp(method="LSODA") at the same rtol/atol on the same initial condition (read from
  msrom's file) with a vectorised NumPy right-hand side, t_eval at the 1001 snapshots (what the paper's
  authors ran).
Both are scored against a reference (msrom ARKIMEX 4, fixed dt = 1e-4): max over snapshots of the relative
L2 error. Times: msrom's own "in S s" (integration and writing) and its process wall time; LSODA's
solve_ivp call alone (imports and set-up excluded). Best of REPEATS.

    /usr/bin/python3 tools/bench/bench_pde.py [--tol 1e-7] [--repeats 3]     # needs python3-scipy (bench only)
Prints a markdown table for docs/performance.md.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EXE = os.environ.get("EXE", os.path.join(ROOT, "build", "msrom"))
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")


def msrom(out, *args):
    cmd = [EXE, "simulate", "-system_type", "kdv", "-system_n", "1000", "-seed", "1", "-simulate_train", "1",
           "-simulate_validation", "0", "-simulate_test", "0", "-simulate_noise", "0", "-ts_max_time", "1",
           "-progress", "never", "-output", out, *args]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if p.returncode:
        sys.exit(f"bench_pde: {' '.join(cmd)} failed: {p.stderr}")
    m = re.search(r"(\d+) TS steps each.* in ([0-9.]+) s", p.stdout)
    with h5py.File(out, "r") as f:
        u = np.asarray(f["fields/u"][0])
    return u, float(m.group(2)), wall, int(m.group(1))


def kdv_rhs(dx, nu=0.02):
    c1, c3 = 1.0 / (2 * dx), nu / dx ** 3

    def f(_t, u):
        up1, um1, up2 = np.roll(u, -1), np.roll(u, 1), np.roll(u, -2)
        return -u * (up1 - um1) * c1 - c3 * (up2 - 3 * up1 + 3 * u - um1)
    return f


def err(u, ref):
    return max(np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(u, ref))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tol", type=float, default=1e-7, help="rtol = atol of both integrators")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    from scipy import __version__ as scipy_version
    from scipy.integrate import solve_ivp
    tmp = tempfile.mkdtemp()
    ref, _, _, _ = msrom(os.path.join(tmp, "ref.h5"), "-ts_type", "arkimex", "-ts_arkimex_type", "4", "-ts_dt", "1e-4",
                         "-simulate_save_every", "10")
    best = None
    for _ in range(a.repeats):
        r = msrom(os.path.join(tmp, "ad.h5"), "-ts_type", "arkimex", "-ts_arkimex_type", "3", "-ts_adapt_type", "basic",
                  "-ts_rtol", str(a.tol), "-ts_atol", str(a.tol))
        best = r if best is None or r[1] < best[1] else best
    u_ms, s_ms, wall_ms, steps_ms = best
    f = kdv_rhs(10.0 / 1000)
    t_eval = np.linspace(0, 1, 1001)
    s_py, sol = None, None
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        sol = solve_ivp(f, (0, 1), ref[0].copy(), method="LSODA", t_eval=t_eval, rtol=a.tol, atol=a.tol)
        dt = time.perf_counter() - t0
        s_py = dt if s_py is None else min(s_py, dt)
    if not sol.success:
        sys.exit(f"bench_pde: LSODA failed: {sol.message}")
    u_py = sol.y.T
    print(f"| KdV n = 1000, t in [0, 1], 1001 snapshots, rtol = atol = {a.tol:g}, 1 core | time (s) | steps | "
          f"RHS evals | max rel. L2 error |\n|---|---|---|---|---|")
    print(f"| SciPy {scipy_version} solve_ivp LSODA (NumPy RHS) | {s_py:.3f} | - | {sol.nfev} (+{sol.njev} Jacobians) | "
          f"{err(u_py, ref):.2e} |")
    print(f"| msrom simulate, ARKIMEX 3 adaptive (integration + writing) | {s_ms:.3f} | {steps_ms} | - | "
          f"{err(u_ms, ref):.2e} |")
    print(f"| msrom simulate, whole process (start-up, PETSc init, file) | {wall_ms:.3f} | | | |")
    print(f"| speed-up (LSODA / msrom in-process; / whole process) | **{s_py / s_ms:.1f}x**; {s_py / wall_ms:.1f}x | | | |")


if __name__ == "__main__":
    main()
