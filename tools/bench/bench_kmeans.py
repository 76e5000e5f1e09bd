#!/usr/bin/python3
"""k-means benchmark, msrom against scikit-learn, side by side in one run (not a test).

Same samples, same initial centroids, same number of Lloyd iterations; sklearn KMeans(algorithm="lloyd",
n_init=1, tol=0) with its OpenMP threads = the cores given; msrom on as many MPI ranks.
    /usr/bin/python3 tools/bench/bench_kmeans.py [--n 1000000] [--k 1000] [--iters 20] [--cores 2]
Prints a markdown table for docs/performance.md.
"""
import argparse, os, subprocess, sys, tempfile, time
import h5py, numpy as np

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--n", type=int, default=1_000_000)
ap.add_argument("--k", type=int, default=1000)
ap.add_argument("--iters", type=int, default=20)
ap.add_argument("--cores", type=int, default=2)
ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "../../build/bench_kmeans"))
a = ap.parse_args()
os.environ.setdefault("OMP_NUM_THREADS", str(a.cores))
from sklearn.cluster import KMeans  # after OMP_NUM_THREADS

env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
rows = []
with tempfile.TemporaryDirectory() as tmp:
    for d in (1, 3):
        rng = np.random.default_rng(2026 + d)
        # Bimodal data like the normalised slow variable of the bistable case (plus Gaussian extra dims).
        x = rng.standard_normal((a.n, d)) * 0.5
        x[:, 0] += np.where(rng.random(a.n) < 0.5, -1.0, 1.0)
        init = x[rng.choice(a.n, a.k, replace=False)].copy()
        path = os.path.join(tmp, f"km{d}.h5")
        with h5py.File(path, "w") as f:
            f["x"] = x
            f["init"] = init
        t0 = time.perf_counter()
        km = KMeans(n_clusters=a.k, init=init, n_init=1, max_iter=a.iters, tol=0.0, algorithm="lloyd").fit(x)
        t_sk = time.perf_counter() - t0
        out = os.path.join(tmp, f"out{d}.h5")
        res = subprocess.run(["mpiexec", "-n", str(a.cores), a.exe, path, out, str(km.n_iter_)],
                             capture_output=True, text=True, env=env)
        if res.returncode != 0:
            sys.exit(f"bench_kmeans failed: {res.stderr.strip()}")
        t_ms = float(res.stdout.split()[-1])
        with h5py.File(out) as f:
            c = f["centroids"][...]
        diff = np.abs(c - km.cluster_centers_).max()
        rows.append((d, km.n_iter_, t_sk, t_ms, t_sk / t_ms, diff))

print(f"| k-means, n = {a.n:g}, K = {a.k}, {a.cores} cores | iterations | sklearn s | msrom s | speed-up | max centroid diff |")
print("|---|---|---|---|---|---|")
for d, it, ts, tm, sp, df in rows:
    print(f"| d = {d} | {it} | {ts:.2f} | {tm:.3f} | {sp:.1f}x | {df:.1e} |")
