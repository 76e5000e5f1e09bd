#!/usr/bin/python3
"""Regression tests for the bugs the fuzzers found (docs/hardening.md, section 1), on the Release msrom: each
malformed file is built with h5py as the fuzzer's recipe built it, and the command must exit 0 (lenient cases)
or 2 with one line on stderr naming the file or option, and leave no output. ctest: fuzz_regressions.

  /usr/bin/python3 tests/fuzz/test_regressions.py build/msrom
"""
import math
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

MSROM = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build/msrom")
failures = []


def env():
    e = {k: v for k, v in os.environ.items()
         if not k.startswith(("OMPI_", "PMIX_", "OPAL_", "ORTE_")) or k.startswith("OMPI_ALLOW")}
    e.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    return e


def msrom(args, cwd):
    p = subprocess.run([MSROM] + args, cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout, p.stderr


def check(name, ok, detail=""):
    print("%-62s %s" % (name, "ok" if ok else "FAILED " + detail))
    if not ok:
        failures.append(name)


def expect_bad(name, args, cwd, culprit, outputs=()):
    code, _, err = msrom(args, cwd)
    lines = err.strip("\n").split("\n") if err.strip() else []
    left = [o for o in outputs if os.path.exists(os.path.join(cwd, o)) or os.path.exists(os.path.join(cwd, o + ".part"))]
    check(name, code == 2 and len(lines) == 1 and culprit in err and not left,
          "(exit %d, stderr %r, left %s)" % (code, err, left))


def data_file(path, values=None, seed=7, time_scalar=False, names_ascii=False, huge=False):
    """A data.h5 as msrom simulate writes it: /time [nt], /state [3, nt, 1] with `names`, root `seed`."""
    nt = 200
    with h5py.File(path, "w") as f:
        if time_scalar:
            f["time"] = 0.1
        else:
            f["time"] = 0.1 * np.arange(1, nt + 1)
        if huge:
            d = f.create_dataset("state", shape=(3, 40, 2 ** 40), dtype="f8")  # nothing stored
        else:
            v = values if values is not None else 1.3 * np.sin(0.37 * np.arange(3 * nt) + 0.1).reshape(3, nt, 1)
            d = f.create_dataset("state", data=v)
        d.attrs.create("names", ["x"], dtype=h5py.string_dtype("ascii" if names_ascii else "utf-8"))
        if seed is not None:
            f.attrs["seed"] = seed


def model_file(path, mean=0.1, widths=(1.0, 4.0, 1.0)):
    """A 1-D Langevin model.h5 as learn-score + learn-drift write it (widths [1, 4, 1])."""
    s = h5py.string_dtype("utf-8")
    with h5py.File(path, "w") as f:
        f["normalization/mean"] = np.array([mean])
        f["normalization/std"] = np.array([0.9])
        f["score/mlp/params"] = 0.5 * np.sin(0.37 * np.arange(13) + 0.1)
        f["score/mlp/widths"] = np.array(widths)
        g = f["score/mlp"]
        g.attrs.create("activation", "swish", dtype=s)
        g.attrs["sigma"] = 0.05
        g.attrs.create("method", "dsm", dtype=s)
        g.attrs["clock_frequency"] = 0.0
        for n in ("Phi", "Phi_generator", "Phi_acf", "Sigma"):
            f["langevin/" + n] = np.array([[0.5]])
        f["langevin/Phi"].attrs.create("source", "acf", dtype=s)
        f["langevin/Phi_generator"].attrs["lag"] = 1.0


def main():
    with tempfile.TemporaryDirectory(prefix="msrom_fuzz_regress_") as d:
        # 1. seed NaN, and an array seed (9): provenance only; stats runs and records seed 0.
        for name, seed in (("NaN", float("nan")), ("array", np.array([1.0, 2.0]))):
            data_file(os.path.join(d, "seed.h5"), seed=seed)
            code, _, err = msrom(["stats", "-data", "seed.h5", "-output", "st"], d)
            ok = code == 0
            if ok:
                with h5py.File(os.path.join(d, "st", "stats.h5")) as f:
                    ok = int(f.attrs["seed"]) == 0
            check("1/9  stats of data with a %s root seed: exit 0, seed 0" % name, ok, err)
        # 2. /time a scalar.
        data_file(os.path.join(d, "t.h5"), time_scalar=True)
        expect_bad("2    learn-score: /time a scalar", ["learn-score", "-data", "t.h5", "-score_clusters", "4", "-output", "m.h5"], d, "/time",
                   ["m.h5"])
        # 6. a shape of 2^40 without data.
        data_file(os.path.join(d, "huge.h5"), huge=True)
        expect_bad("6    stats: /state [3, 40, 2^40] with nothing stored", ["stats", "-data", "huge.h5", "-output", "st2"],
                   d, "huge.h5")
        expect_bad("6    learn-score: the same", ["learn-score", "-data", "huge.h5", "-output", "m.h5"], d, "huge.h5",
                   ["m.h5"])
        # 7. -score_hidden 1e12.
        data_file(os.path.join(d, "ok.h5"))
        expect_bad("7    learn-score -score_hidden 1e12",
                   ["learn-score", "-data", "ok.h5", "-score_hidden", "1e12", "-output", "m.h5"], d, "-score_hidden",
                   ["m.h5"])
        # 8. values whose moments overflow.
        data_file(os.path.join(d, "big.h5"), values=np.full((3, 200, 1), 1e308))
        expect_bad("8    learn-score: every value 1e308", ["learn-score", "-data", "big.h5", "-score_clusters", "4",
                                                            "-output", "m.h5"], d, "big.h5", ["m.h5"])
        # 12. names stored as ASCII strings (h5py's ascii dtype, C's H5T_C_S1).
        data_file(os.path.join(d, "ascii.h5"), names_ascii=True)
        code, out, err = msrom(["stats", "-data", "ascii.h5", "-output", "st3"], d)
        ok = code == 0
        if ok:
            with h5py.File(os.path.join(d, "st3", "stats.h5")) as f:
                ok = "x" in f
        check("12   stats of data whose names are ASCII strings: exit 0, /x", ok, err)
        # 5. a model with a NaN mean (the valid one runs).
        ens = ["ensemble", "-model", "model.h5", "-members", "2", "-ts_dt", "0.01", "-ts_max_time", "1",
               "-progress", "never", "-output", "r.h5"]
        model_file(os.path.join(d, "model.h5"))
        code, _, err = msrom(ens, d)
        check("5    ensemble of the valid 1-D model: exit 0", code == 0 and os.path.exists(os.path.join(d, "r.h5")), err)
        os.remove(os.path.join(d, "r.h5"))
        for bad in (float("nan"), float("inf")):
            model_file(os.path.join(d, "model.h5"), mean=bad)
            expect_bad("5    ensemble of a model whose mean is %s" % bad, ens, d, "model.h5", ["r.h5"])
        # 13. widths that need 8e12 parameters (13 stored).
        model_file(os.path.join(d, "model.h5"), widths=(1e6, 4e6, 1e6))
        expect_bad("13   ensemble of a model with widths [1e6, 4e6, 1e6]", ens, d, "params has 13 values", ["r.h5"])
    print("fuzz regressions: %s" % ("passed" if not failures else "FAILED: %s" % failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
