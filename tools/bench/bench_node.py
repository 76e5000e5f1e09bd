#!/usr/bin/python3
"""NODE training steps per second, msrom against PyTorch, side by side in one run (not a test).

One step = 100 windows x 60 RK4 steps of du/dt = NN(u) (NN 10-256-256-10, Swish, float64) forward, the
exponentially weighted loss sum_k w_k |u_k - data_k|^2 (w_k = exp(-k/K)), backward through the RK4 stages and
steps (autograd), Adam. One thread on both sides (torch.set_num_threads(1); msrom on 1 rank). The data are
the same on both sides: a delay-embedded (m = 10, tau = 2) deterministic two-tone signal, h = 0.01, windows
starting every 97 samples; the first step's loss is printed by both as a cross-check of the set-up.
    /usr/bin/python3 tools/bench/bench_node.py [--widths 10,256,256,10] [--windows 100] [--steps 60] [--iterations 10]
"""
import argparse, math, os, subprocess, time
import torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--widths", default="10,256,256,10")
ap.add_argument("--windows", type=int, default=100)
ap.add_argument("--steps", type=int, default=60)
ap.add_argument("--iterations", type=int, default=10)
ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "../../build/bench_node"))
a = ap.parse_args()
torch.set_num_threads(1)
w = [int(v) for v in a.widths.split(",")]
m, tau, n, h, K, B = w[0], 2, 20000, 0.01, a.steps, a.windows
layers = []
for i in range(len(w) - 1):
    layers.append(torch.nn.Linear(w[i], w[i + 1], dtype=torch.float64))
    if i < len(w) - 2:
        layers.append(torch.nn.SiLU())
net = torch.nn.Sequential(*layers)
for l in net:  # msrom's initialisation law (Xavier normal, zero bias); the bits differ, the set-up does not
    if isinstance(l, torch.nn.Linear):
        torch.nn.init.xavier_normal_(l.weight)
        torch.nn.init.zeros_(l.bias)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
i = torch.arange(n, dtype=torch.float64)
r = torch.sin(0.05 * i) + 0.3 * torch.sin(0.31 * i + 1.0)
first = (m - 1) * tau
starts = torch.tensor([first + b * 97 for b in range(B)])
lags = torch.arange(m) * tau
# data[k] = delay vectors at starts + k, B x m
data = torch.stack([r[(starts + k)[:, None] - lags[None, :]] for k in range(K + 1)])
wk = torch.exp(-torch.arange(1, K + 1, dtype=torch.float64) / K)
scale = 1.0 / (B * m * wk.sum())


def step():
    opt.zero_grad(set_to_none=True)
    u = data[0]
    loss = 0.0
    for k in range(K):
        k1 = net(u)
        k2 = net(u + 0.5 * h * k1)
        k3 = net(u + 0.5 * h * k2)
        k4 = net(u + h * k3)
        u = u + (h / 6.0) * (k1 + 2 * k2 + 2 * k3 + k4)
        loss = loss + wk[k] * ((u - data[k + 1]) ** 2).sum()
    loss = loss * scale
    loss.backward()
    opt.step()
    return loss.item()


loss0 = step()  # warm-up
step()
t0 = time.perf_counter()
for _ in range(a.iterations):
    step()
torch_rate = a.iterations / (time.perf_counter() - t0)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
out = subprocess.run([a.exe, a.widths, str(B), str(K), str(a.iterations)], capture_output=True, text=True,
                     env=env, check=True).stdout.split()
ours, our_loss0 = float(out[-1]), float(out[1])
print(f"first-step loss: PyTorch {loss0:.6g}, msrom {our_loss0:.6g} (different random weights, same law)")
print(f"| NODE training steps/s, {B} windows x {K} RK4 steps, [{a.widths}], float64, 1 thread "
      f"| PyTorch {torch.__version__} | msrom | speed-up |")
print("|---|---|---|---|")
print(f"| forward + backward + Adam | {torch_rate:.3g} | {ours:.3g} | {ours / torch_rate:.2f}x |")
