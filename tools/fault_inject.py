#!/usr/bin/python3
"""Fault injection: kill msrom commands with SIGKILL at random points and check what they leave behind.

For each command of the ci chain (simulate, learn-score, learn-drift, ensemble, learn-forcing), on the ci
inputs (inputs/bistable_ci.yaml; the options of tools/quickstart.sh's pipeline), and of Method B's (simulate of
the KdV ci case, learn-msde with periodic checkpoints), the script

  1. runs the command once uninterrupted (the reference output and its run time T);
  2. runs it --tries times in a fresh directory, each killed with SIGKILL (every process of its session: mpiexec
     and all ranks at once, as a node failure) after a random delay in [0, T], and checks:
       - a file under a final name is complete: it opens (h5py) and equals the reference bit for bit on every
         dataset (the same datasets, shapes, types and bytes), or it is absent. learn-drift and learn-forcing
         update model.h5 in place: it must equal either the input or the reference output;
       - leftovers are only *.part files (and the ensemble's and learn-msde's *.ckpt); a metrics.json beside an
         output is complete JSON, an XDMF sidecar complete XML beside its .h5; other new files are reported (stray);
       - a data.h5.part is not mistaken for data.h5 (a reader given data.h5 exits 2) [simulate];
       - the next run cleans up: rerun uninterrupted in the same directory (the ensemble with -restart, from its
         last checkpoint), the output equals the reference and no *.part or *.ckpt is left. The ensemble and
         learn-msde always restart, so every kill checks "restart from the checkpoint = uninterrupted run";
  3. for the ensemble, sets up the two kill points of its last moments that random kills rarely hit (after the
     closing datasets, before the rename; after the rename, before the checkpoint's removal) and restarts.

Exit 0 if every check passed, 1 otherwise. tests/CMakeLists.txt runs a short version (ctest -L fault);
docs/hardening.md has the results of the full one.

  /usr/bin/python3 tools/fault_inject.py                      # 20 tries per command, build/msrom, 1 rank
  /usr/bin/python3 tools/fault_inject.py --tries 5 --msrom build-hard/msrom --np 2 --commands ensemble
"""
import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from xml.etree import ElementTree

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CI = os.path.join(ROOT, "inputs", "bistable_ci.yaml")
KDV = os.path.join(ROOT, "inputs", "kdv_ci.yaml")

# The ci chain, each command with its inputs (copied into the run directory) and its outputs. The options are
# those of inputs/bistable_ci.yaml as the pipeline runs them (tools/quickstart.sh), on the single commands.
# "update": the command rewrites an input in place (model.h5).
COMMANDS = {
    "simulate": dict(
        args=["simulate", "-options_file_yaml", CI, "-progress", "never", "-output", "data.h5"],
        inputs={}, outputs=["data.h5"]),
    "learn-score": dict(
        args=["learn-score", "-options_file_yaml", CI, "-data", "data.h5", "-output", "model.h5"],
        inputs={"data.h5": "data.h5"}, outputs=["model.h5"]),
    "learn-drift": dict(
        args=["learn-drift", "-data", "data.h5", "-model", "model.h5", "-seed", "7", "-langevin_generator_lag", "1.0",
              "-langevin_phi", "acf", "-langevin_fit_members", "32", "-langevin_fit_time", "500",
              "-langevin_fit_dt", "5e-3"],
        inputs={"data.h5": "data.h5", "model.h5": "model_score.h5"}, outputs=["model.h5"], update=True),
    "ensemble": dict(
        args=["ensemble", "-model", "model.h5", "-members", "32", "-ts_dt", "5e-3", "-ts_max_time", "500",
              "-ensemble_save_every", "2", "-ensemble_stats_every", "20", "-ensemble_max_lag", "100", "-seed", "7",
              "-ensemble_checkpoint_every", "10000", "-progress", "never", "-output", "rollouts.h5"],
        inputs={"model.h5": "model_drift.h5"}, outputs=["rollouts.h5"], restart=True),
    # The ci-size forcing of tests/integration (small networks, few steps): seconds, not minutes.
    "learn-forcing": dict(
        args=["learn-forcing", "-data", "data.h5", "-model", "model.h5", "-forcing_hidden", "16,16",
              "-forcing_members", "3", "-forcing_iterations", "20", "-forcing_window", "20",
              "-forcing_check_trajectories", "4", "-forcing_check_time", "4", "-progress", "never"],
        inputs={"data.h5": "data.h5", "model.h5": "model_drift.h5"}, outputs=["model.h5"], update=True),
    # Method B: the KdV ci data and learn-msde at the integration test's restart size (400 Adam steps over the
    # n_eta stages, a checkpoint every 25); the rerun is always -restart, from the last checkpoint.
    "simulate-kdv": dict(
        args=["simulate", "-options_file_yaml", KDV, "-progress", "never", "-output", "data_kdv.h5"],
        inputs={}, outputs=["data_kdv.h5"]),
    "learn-msde": dict(
        args=["learn-msde", "-options_file_yaml", KDV, "-data", "data_kdv.h5", "-msde_iterations", "400",
              "-msde_val_every", "100", "-msde_checkpoint_every", "25", "-progress", "never", "-output", "msde.h5"],
        inputs={"data_kdv.h5": "data_kdv.h5"}, outputs=["msde.h5"], restart=True),
}
# Reference files each command's reference run leaves for the next ones (name in the reference directory).
PRODUCES = {"simulate": {"data.h5": "data.h5"}, "learn-score": {"model.h5": "model_score.h5"},
            "learn-drift": {"model.h5": "model_drift.h5"}, "ensemble": {"rollouts.h5": "rollouts.h5"},
            "learn-forcing": {"model.h5": "model_forcing.h5"}, "simulate-kdv": {"data_kdv.h5": "data_kdv.h5"},
            "learn-msde": {"msde.h5": "msde.h5"}}
ORDER = ["simulate", "learn-score", "learn-drift", "ensemble", "learn-forcing", "simulate-kdv", "learn-msde"]
# The commands each one needs run first (their reference outputs are its inputs).
NEEDS = {"learn-score": ["simulate"], "learn-drift": ["learn-score"], "ensemble": ["learn-drift"],
         "learn-forcing": ["learn-drift"], "learn-msde": ["simulate-kdv"]}


def env():
    e = dict(os.environ)
    e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    # A parent MPI job's variables (ctest's singleton) must not reach the children.
    for k in list(e):
        if k.startswith(("OMPI_", "PMIX_", "OPAL_", "ORTE_")) and not k.startswith("OMPI_ALLOW") \
                and k != "OMPI_MCA_rmaps_base_oversubscribe":
            del e[k]
    return e


def command_line(opts, args):
    launcher = [opts.mpiexec, "-n", str(opts.np), "--oversubscribe"] if opts.np > 1 else []
    return launcher + [opts.msrom] + args


def run(opts, args, cwd, check=True):
    """Runs to the end; returns (exit code, seconds, stderr)."""
    t0 = time.monotonic()
    p = subprocess.run(command_line(opts, args), cwd=cwd, env=env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if check and p.returncode != 0:
        raise RuntimeError("msrom %s failed (exit %d) in %s:\n%s" % (" ".join(args), p.returncode, cwd, p.stderr))
    return p.returncode, dt, p.stderr


def session_members(sid):
    """Pids of the processes of session `sid` (mpiexec puts each rank in a process group of its own, but they
    stay in mpiexec's session)."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":  # fields: state ppid pgrp session ...
            pids.append(int(d))
    return pids


def kill_session(sid):
    """SIGKILL every process of the session, as a node failure would: mpiexec and all its ranks at once."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = session_members(sid)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.01)
    raise RuntimeError("processes of session %d survive SIGKILL: %s" % (sid, session_members(sid)))


def run_killed(opts, args, cwd, delay):
    """Starts the command in its own process group and SIGKILLs the group after `delay` seconds. Returns
    None if it was still running when killed, else the seconds it took to finish."""
    t0 = time.monotonic()
    p = subprocess.Popen(command_line(opts, args), cwd=cwd, env=env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        p.wait(timeout=delay)
        return time.monotonic() - t0
    except subprocess.TimeoutExpired:
        pass
    kill_session(p.pid)
    p.wait()
    return None


def datasets(path):
    """{name: (shape, dtype, bytes)} of every dataset of an HDF5 file."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                a = obj[()]
                a = np.asarray(a)
                out[name] = (a.shape, str(a.dtype), a.tobytes())
        f.visititems(visit)
    return out


def opens(path):
    try:
        datasets(path)
        return True
    except Exception:  # noqa: BLE001
        return False


def same(path, reference):
    """'' if `path` opens and equals `reference` (a datasets() dict) bit for bit, else what differs."""
    try:
        d = datasets(path)
    except Exception as e:  # noqa: BLE001 (any failure to open or read is the finding)
        return "does not open or read: %s" % e
    if set(d) != set(reference):
        return "datasets differ: %s" % sorted(set(d) ^ set(reference))
    for k in d:
        if d[k] != reference[k]:
            return "dataset /%s differs" % k
    return ""


def prepare(cmd, ref_dir, work):
    if os.path.exists(work):
        shutil.rmtree(work)
    os.makedirs(work)
    for name, source in COMMANDS[cmd]["inputs"].items():
        shutil.copyfile(os.path.join(ref_dir, source), os.path.join(work, name))


def requires(cmd):
    """Every command whose reference output `cmd` needs, transitively."""
    out = set()
    for c in NEEDS.get(cmd, []):
        out |= {c} | requires(c)
    return out


def references(opts, ref_dir, wanted):
    """Runs the chain uninterrupted; returns {command: seconds} and leaves every file in ref_dir."""
    times = {}
    for cmd in ORDER:
        needed = cmd in wanted or any(cmd in requires(w) for w in wanted)
        if not needed:
            continue
        work = os.path.join(ref_dir, "run_" + cmd)
        prepare(cmd, ref_dir, work)
        _, dt, _ = run(opts, COMMANDS[cmd]["args"], work)
        times[cmd] = dt
        for name, target in PRODUCES[cmd].items():
            shutil.copyfile(os.path.join(work, name), os.path.join(ref_dir, target))
        print("fault: reference %-13s %6.2f s" % (cmd, dt), flush=True)
    return times


def inject(opts, cmd, ref_dir, seconds, rng):
    spec = COMMANDS[cmd]
    reference = {o: datasets(os.path.join(ref_dir, PRODUCES[cmd][o])) for o in spec["outputs"]}
    before = {o: datasets(os.path.join(ref_dir, spec["inputs"][o])) for o in spec["outputs"]
              if spec.get("update")}
    stats = dict(tries=0, killed=0, finished_before_kill=0, final_present=0, final_complete=0, final_input=0,
                 final_absent=0, part_left=0, ckpt_left=0, reruns=0, reruns_ok=0, restarts_identical=0, stray=[],
                 failures=[])
    # The typical run time: the median of every uninterrupted run of the command so far (the reference, runs
    # that ended before their kill, reruns), so that a load change on the machine does not shift the kills.
    durations = [seconds]
    for i in range(opts.tries):
        work = os.path.join(opts.work, "%s_%02d" % (cmd, i))
        prepare(cmd, ref_dir, work)
        typical = sorted(durations)[len(durations) // 2]
        delay = rng.uniform(0, typical)
        finished = run_killed(opts, spec["args"], work, delay)
        stats["tries"] += 1
        stats["killed" if finished is None else "finished_before_kill"] += 1
        if finished is not None:
            durations.append(finished)
        files = sorted(os.listdir(work))
        fail = []
        for o in spec["outputs"]:
            path = os.path.join(work, o)
            if not os.path.exists(path):
                stats["final_absent"] += 1
                continue
            stats["final_present"] += 1
            why = same(path, reference[o])
            if not why:
                stats["final_complete"] += 1
            elif o in before and not same(path, before[o]):
                stats["final_input"] += 1  # the update had not replaced it yet: the intact input
            else:
                fail.append("%s after a kill at %.2f s: %s" % (o, delay, why))
        parts = [f for f in files if f.endswith(".part")]
        ckpts = [f for f in files if f.endswith(".ckpt")]
        stats["part_left"] += len(parts)
        stats["ckpt_left"] += len(ckpts)
        known = set(spec["inputs"]) | set(spec["outputs"])
        for f in files:
            if f in known or f.endswith(".part") or f.endswith(".ckpt"):
                continue
            # Text beside an output, written atomically: metrics.json (complete JSON) and the XDMF sidecar of a
            # field data set (complete XML, only beside its complete .h5).
            if f.endswith(".json") or f.endswith(".xmf"):
                try:
                    if f.endswith(".json"):
                        with open(os.path.join(work, f)) as fh:
                            json.load(fh)
                    else:
                        ElementTree.parse(os.path.join(work, f))
                        h5 = f[:-4] + ".h5"
                        if h5 in spec["outputs"] and h5 not in files:
                            fail.append("%s after a kill at %.2f s: beside no %s" % (f, delay, h5))
                except (OSError, ValueError, ElementTree.ParseError) as e:
                    fail.append("%s after a kill at %.2f s is not complete: %s" % (f, delay, e))
                continue
            # A file under another final name (e.g. a temporary output of the command itself).
            stats["stray"].append("%s (%s)" % (f, "opens" if opens(os.path.join(work, f)) else "DOES NOT OPEN"))
        # simulate: a half-written data.h5.part is not taken for data.h5.
        if cmd == "simulate" and "data.h5" not in files and parts:
            code, _, err = run(opts, ["stats", "-data", "data.h5", "-output", "stats"], work, check=False)
            if code != 2 or "data.h5" not in err:
                fail.append("stats on a missing data.h5 (with data.h5.part present) exited %d: %s" % (code, err))
        # The next run, in the same directory: cleans up, and ends with the reference output. The ensemble
        # restarts from its last checkpoint; an update (learn-drift, learn-forcing) runs on whatever model.h5 the
        # kill left (the input or the already updated file: it replaces its group either way).
        if parts or ckpts or spec.get("restart"):
            stats["reruns"] += 1
            args = spec["args"] + (["-restart"] if spec.get("restart") else [])
            code, took, err = run(opts, args, work, check=False)
            if code == 0 and not spec.get("restart"):
                durations.append(took)  # a whole run (a restart is a part of one)
            bad = [] if code == 0 else ["exit %d: %s" % (code, err.strip())]
            for o in spec["outputs"]:
                why = same(os.path.join(work, o), reference[o]) if code == 0 else ""
                if why:
                    bad.append("%s: %s" % (o, why))
            left = [f for f in os.listdir(work) if f.endswith(".part") or f.endswith(".ckpt")]
            if left:
                bad.append("left behind: %s" % left)
            if bad:
                fail.append("rerun%s after a kill at %.2f s: %s" % (" (-restart)" if spec.get("restart") else "",
                                                                    delay, "; ".join(bad)))
            else:
                stats["reruns_ok"] += 1
                if spec.get("restart"):
                    stats["restarts_identical"] += 1
        if fail:
            stats["failures"].extend(fail)
        if not opts.keep:
            shutil.rmtree(work)
    return stats


def ensemble_windows(opts, ref_dir):
    """The two kill points of the ensemble's last moments that random kills rarely hit, set up directly:
    (a) killed after writing its closing datasets into the .part but before the rename (the .part complete,
        the last periodic checkpoint beside it), and
    (b) killed after the rename but before the checkpoint was removed (a complete output, a stale checkpoint).
    In both, -restart must end with the reference output and nothing left behind. Returns the failures."""
    spec = COMMANDS["ensemble"]
    reference = datasets(os.path.join(ref_dir, "rollouts.h5"))
    work = os.path.join(opts.work, "ensemble_windows")
    prepare("ensemble", ref_dir, work)
    # A checkpoint of this run: the first one written, then the run killed.
    p = subprocess.Popen(command_line(opts, spec["args"]), cwd=work, env=env(), stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    ckpt = os.path.join(work, "rollouts.h5.ckpt")
    while p.poll() is None and not os.path.exists(ckpt):
        time.sleep(0.005)
    kill_session(p.pid)
    p.wait()
    if not os.path.exists(ckpt):
        return ["ensemble windows: the run wrote no checkpoint"]
    saved = os.path.join(opts.work, "ensemble_windows.ckpt")
    shutil.copyfile(ckpt, saved)
    failures = []
    for case, final in (("(a) .part complete, checkpoint", "rollouts.h5.part"),
                        ("(b) output complete, stale checkpoint", "rollouts.h5")):
        prepare("ensemble", ref_dir, work)
        shutil.copyfile(os.path.join(ref_dir, "rollouts.h5"), os.path.join(work, final))
        shutil.copyfile(saved, ckpt)
        code, _, err = run(opts, spec["args"] + ["-restart"], work, check=False)
        why = "exit %d: %s" % (code, err.strip()) if code else same(os.path.join(work, "rollouts.h5"), reference)
        left = [f for f in os.listdir(work) if f.endswith(".part") or f.endswith(".ckpt")]
        if why or left:
            failures.append("ensemble window %s: -restart: %s%s" % (case, why, " left behind: %s" % left if left else ""))
        print("fault: ensemble window %-40s -restart %s" % (case, "identical" if not (why or left) else "FAILED"),
              flush=True)
    if not opts.keep:
        shutil.rmtree(work)
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tries", type=int, default=20, help="kills per command (default 20)")
    ap.add_argument("--msrom", default=os.path.join(ROOT, "build", "msrom"))
    ap.add_argument("--mpiexec", default=shutil.which("mpiexec") or "mpiexec")
    ap.add_argument("--np", type=int, default=1, help="ranks (> 1: under mpiexec, the whole job killed)")
    ap.add_argument("--commands", default=",".join(ORDER))
    ap.add_argument("--seed", type=int, default=1, help="seed of the kill delays")
    ap.add_argument("--work", default="", help="scratch directory (default: a new temporary one, removed)")
    ap.add_argument("--keep", action="store_true", help="keep every run directory")
    ap.add_argument("--json", default="", help="write the results as JSON to this file")
    opts = ap.parse_args()
    wanted = [c for c in opts.commands.split(",") if c]
    for c in wanted:
        if c not in COMMANDS:
            ap.error("unknown command %s (%s)" % (c, ", ".join(ORDER)))
    own = not opts.work
    opts.work = opts.work or tempfile.mkdtemp(prefix="msrom_fault_")
    opts.work = os.path.abspath(opts.work)
    os.makedirs(opts.work, exist_ok=True)
    opts.msrom = os.path.abspath(opts.msrom)
    ref_dir = os.path.join(opts.work, "reference")
    os.makedirs(ref_dir, exist_ok=True)
    t0 = time.monotonic()
    times = references(opts, ref_dir, wanted)
    rng = random.Random(opts.seed)
    results = {}
    ok = True
    for cmd in [c for c in ORDER if c in wanted]:
        s = inject(opts, cmd, ref_dir, times[cmd], rng)
        s["seconds"] = times[cmd]
        results[cmd] = s
        ok = ok and not s["failures"]
        print("fault: %-13s T=%5.2fs kills %2d (finished first %d) | final name: present %2d, complete %2d, input %2d, "
              "absent %2d | .part %2d .ckpt %2d | reruns %2d ok %2d | restarts identical %2d | stray %d | %s"
              % (cmd, s["seconds"], s["killed"], s["finished_before_kill"], s["final_present"], s["final_complete"],
                 s["final_input"], s["final_absent"], s["part_left"], s["ckpt_left"], s["reruns"], s["reruns_ok"],
                 s["restarts_identical"], len(s["stray"]), "ok" if not s["failures"] else "FAILED"), flush=True)
        for f in s["failures"]:
            print("fault:   FAILURE: " + f, flush=True)
        for f in sorted(set(s["stray"])):
            print("fault:   stray file: " + f, flush=True)
    if "ensemble" in wanted:
        windows = ensemble_windows(opts, ref_dir)
        results["ensemble"]["windows_failures"] = windows
        for f in windows:
            print("fault:   FAILURE: " + f, flush=True)
        ok = ok and not windows
    print("fault: %s in %.0f s (%d tries per command, %d rank(s), %s)" % ("passed" if ok else "FAILED",
          time.monotonic() - t0, opts.tries, opts.np, opts.msrom))
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(dict(tries=opts.tries, np=opts.np, seed=opts.seed, results=results), f, indent=1)
    if own and not opts.keep:
        shutil.rmtree(opts.work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
