#pragma once
// What the integration tests share: running `msrom` as a child process and a scratch directory for its files.
// One integration_tests binary runs every test file in one process, so they share one scratch directory;
// each file keeps its own file names apart.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "msrom/core/files.hpp"

namespace msrom::it {

inline const std::string kExe = MSROM_EXE;
inline const std::string kInputs = std::string(MSROM_SOURCE_DIR) + "/inputs/";

inline std::string scratch() {
  static const std::string dir = [] {
    std::string d = "/tmp/msrom_it_" + std::to_string(getpid());
    msrom::make_output_directory("scratch", d);
    return d;
  }();
  return dir;
}

inline std::string slurp(const std::string& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Result {
  int code = -1;
  std::string out, err;
};

// This test process is an MPI singleton: its OpenMPI/PMIx variables must not reach the msrom (or mpiexec)
// it starts, or the child joins the wrong job. The permissions (OMPI_ALLOW_*) are kept.
inline std::string clean_env() {
  std::string unset;
  for (char** e = environ; *e; ++e) {
    const std::string kv = *e, k = kv.substr(0, kv.find('='));
    const bool mpi = k.rfind("OMPI_", 0) == 0 || k.rfind("PMIX_", 0) == 0 || k.rfind("OPAL_", 0) == 0 ||
                     k.rfind("ORTE_", 0) == 0;
    if (mpi && k.rfind("OMPI_ALLOW", 0) != 0) unset += " -u " + k;
  }
  return "env" + unset + " ";
}

// Runs `msrom <args>` (under mpiexec -n np when np > 0) and captures exit code, stdout, stderr.
inline Result run(const std::string& args, int np = 0) {
  const std::string o = scratch() + "/stdout", e = scratch() + "/stderr";
  std::string cmd = clean_env();
  if (np > 0) cmd += std::string(MSROM_MPIEXEC) + " -n " + std::to_string(np) + " --oversubscribe ";
  cmd += kExe + " " + args + " > " + o + " 2> " + e;
  const int rc = std::system(cmd.c_str());
  Result r;
  r.code = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  r.out = slurp(o);
  r.err = slurp(e);
  return r;
}

// Runs `msrom <args>` in the background (under mpiexec -n np when np > 0), waits until the file `ready`
// exists (the run has started, so its signal handlers are in place: a fixed sleep is not enough on a slow or
// sanitizer build, or a checkpoint has been written), then `delay` seconds more, sends `sig` and returns the
// exit code (128 + the signal's number when it killed the process).
inline int interrupted(const std::string& args, const std::string& ready, const char* sig, const char* delay = "0",
                       int np = 0) {
  const std::string launcher = np > 0 ? std::string(MSROM_MPIEXEC) + " -n " + std::to_string(np) + " --oversubscribe " : "";
  const std::string cmd = clean_env() + "sh -c '" + launcher + kExe + " " + args + " > /dev/null 2>&1 & p=$!; " +
                          "while [ ! -e " + ready + " ] && kill -0 $p 2>/dev/null; do sleep 0.01; done; sleep " +
                          delay + "; kill -" + sig + " $p; wait $p; exit $?'";
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

}  // namespace msrom::it
