#!/usr/bin/python3
"""Ensemble benchmark (not a test): Euler-Maruyama member-steps per second of `msrom ensemble`, side by side
in one run with the same loop in PyTorch, and the analytic drift and weak scaling of msrom alone.

  1. Langevin drift Phi s(u) with the score MLP [1,100,50,1] (Swish), 1e4 members, float64, 1 thread each:
     msrom (TS and plain loop; every MLP kernel the CPU has, -nn_kernel) against PyTorch
     (torch.set_num_threads(1)), the same weights.
  2. Analytic double-well drift, msrom alone: member-steps/s per core.
  3. Weak scaling 1 -> 2 ranks: the same members per rank.
    /usr/bin/python3 tools/bench/bench_ensemble.py [--members 10000] [--steps 200]
"""
import argparse, os, re, subprocess, tempfile, time
import h5py, numpy as np, torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--members", type=int, default=10000)
ap.add_argument("--steps", type=int, default=200)
ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "../../build/msrom"))
a = ap.parse_args()
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1")
torch.set_num_threads(1)
widths, sigma_n, phi = [1, 100, 50, 1], 0.05, 0.25
rng = np.random.default_rng(1)
layers = []
for i in range(len(widths) - 1):
    fan_in, fan_out = widths[i], widths[i + 1]
    W = rng.standard_normal((fan_out, fan_in)) * np.sqrt(2 / (fan_in + fan_out)) * 0.3
    b = rng.standard_normal(fan_out) * 0.01
    layers.append((W, b))
params = np.concatenate([np.concatenate([W.T.ravel(), b]) for W, b in layers])  # column-major W, then b


def run(args, np_=1):
    cmd = ["mpiexec", "-n", str(np_), a.exe, "ensemble"] + args
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True).stdout
    return float(re.search(r"([0-9.e+]+) member-steps/s", out).group(1))


with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "model.h5")
    with h5py.File(model, "w") as f:  # the model.h5 layout of learn-score + learn-drift
        f["normalization/mean"] = [0.0]
        f["normalization/std"] = [1.0]
        g = f.create_group("score/mlp")
        g["params"] = params
        g["widths"] = np.array(widths, dtype=float)
        g.attrs["activation"] = "swish"
        g.attrs["sigma"] = sigma_n
        g.attrs["method"] = "dsm"
        for name in ("Phi", "Phi_generator", "Phi_acf"):
            f[f"langevin/{name}"] = [[phi]]
        f["langevin/Phi"].attrs["source"] = "generator"
        f["langevin/Phi_generator"].attrs["lag"] = 1.0
        f["langevin/Sigma"] = [[np.sqrt(phi)]]
    common = ["-members", str(a.members), "-ts_dt", "1e-3", "-ts_max_steps", str(a.steps), "-ensemble_burn_in", "0",
              "-ensemble_save_every", "0", "-ensemble_stats_every", "10", "-ensemble_max_lag", "0.1",
              "-output", os.path.join(tmp, "r.h5"), "-progress", "never"]
    # Every MLP inference kernel this CPU has (nn/kernel.hpp); the default (auto) is the widest.
    kernels = {}
    for k in ("generic", "avx2", "avx512"):
        try:
            kernels[k] = run(["-model", model, "-ensemble_integrator", "ts", "-nn_kernel", k] + common)
        except subprocess.CalledProcessError:
            pass  # not on this CPU
    ms_ts = run(["-model", model, "-ensemble_integrator", "ts"] + common)
    ms_loop = run(["-model", model, "-ensemble_integrator", "loop"] + common)

    # PyTorch: the same network and Euler-Maruyama loop.
    net = torch.nn.Sequential(torch.nn.Linear(1, 100, dtype=torch.float64), torch.nn.SiLU(),
                              torch.nn.Linear(100, 50, dtype=torch.float64), torch.nn.SiLU(),
                              torch.nn.Linear(50, 1, dtype=torch.float64))
    with torch.no_grad():
        for lin, (W, b) in zip([net[0], net[2], net[4]], layers):
            lin.weight.copy_(torch.from_numpy(W))
            lin.bias.copy_(torch.from_numpy(b))
        u = torch.randn(a.members, 1, dtype=torch.float64)
        dt, steps = 1e-3, max(20, a.steps // 4)
        c = (2 * dt) ** 0.5 * phi ** 0.5
        t0 = time.perf_counter()
        for _ in range(steps):
            u = u + dt * phi * (-net(u) / sigma_n) + c * torch.randn_like(u)
        torch_rate = a.members * steps / (time.perf_counter() - t0)

    ana = ["-model", "double_well", "-members", "10000", "-ts_dt", "1e-2", "-ts_max_steps", "5000",
           "-ensemble_burn_in", "0", "-ensemble_save_every", "0", "-ensemble_stats_every", "10",
           "-ensemble_max_lag", "0.1", "-output", os.path.join(tmp, "a.h5"), "-progress", "never"]
    analytic = run(ana)
    one = run(ana)
    ana2 = list(ana)
    ana2[ana2.index("-members") + 1] = "20000"
    two = run(ana2, 2)

print(f"| member-steps/s, {a.members} members, float64, 1 thread | value |")
print("|---|---|")
print(f"| MLP [1,100,50,1] drift, PyTorch {torch.__version__} EM loop | {torch_rate:.3g} |")
for k, rate in kernels.items():
    print(f"| MLP drift, msrom ensemble, TS, -nn_kernel {k} | {rate:.3g} ({rate / torch_rate:.1f}x PyTorch) |")
print(f"| MLP drift, msrom ensemble, PETSc TS Euler + noise post-step (default kernel) | {ms_ts:.3g} ({ms_ts / torch_rate:.1f}x PyTorch) |")
print(f"| MLP drift, msrom ensemble, plain loop | {ms_loop:.3g} (TS costs {100 * (ms_loop / ms_ts - 1):+.1f}%) |")
print(f"| analytic double-well drift, msrom, 1 rank (per core) | {analytic:.3g} |")
print(f"| weak scaling 1 -> 2 ranks (1e4 members per rank), per-rank rate 1: {one:.3g}, 2: {two / 2:.3g} | {100 * two / 2 / one:.1f}% |")
