#!/usr/bin/python3
"""Adam training steps per second, msrom's MLP against PyTorch, side by side in one run (not a test).

One step = forward + MSE loss + backward + Adam update on a fixed minibatch, float64, Swish hidden layers,
one thread on both sides (torch.set_num_threads(1); msrom's MLP is single-threaded per rank).
    /usr/bin/python3 tools/bench/bench_adam.py [--widths 1,50,25,1] [--batch 16] [--steps 100000]
"""
import argparse, os, subprocess, time
import torch

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--widths", default="1,50,25,1")
ap.add_argument("--batch", type=int, default=16)
ap.add_argument("--steps", type=int, default=100000)
ap.add_argument("--exe", default=os.path.join(os.path.dirname(__file__), "../../build/bench_adam"))
a = ap.parse_args()
torch.set_num_threads(1)
w = [int(v) for v in a.widths.split(",")]
layers = []
for i in range(len(w) - 1):
    layers.append(torch.nn.Linear(w[i], w[i + 1], dtype=torch.float64))
    if i < len(w) - 2:
        layers.append(torch.nn.SiLU())
net = torch.nn.Sequential(*layers)
opt = torch.optim.Adam(net.parameters(), lr=1e-3)
x = torch.rand(a.batch, w[0], dtype=torch.float64) * 2 - 1
y = torch.sin(x)[:, : w[-1]]


def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.mean((net(x) - y) ** 2)
    loss.backward()
    opt.step()


for _ in range(1000):
    step()
torch_steps = max(2000, a.steps // 10)
t0 = time.perf_counter()
for _ in range(torch_steps):
    step()
torch_rate = torch_steps / (time.perf_counter() - t0)
env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
ours = float(subprocess.run([a.exe, a.widths, str(a.batch), str(a.steps)], capture_output=True, text=True,
                            env=env, check=True).stdout.split()[-1])
print(f"| Adam steps/s, MLP [{a.widths}], batch {a.batch}, float64, 1 thread | PyTorch {torch.__version__} | msrom | speed-up |")
print("|---|---|---|---|")
print(f"| forward + backward + step | {torch_rate:.0f} | {ours:.0f} | {ours / torch_rate:.1f}x |")
