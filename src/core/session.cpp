#include "msrom/core/session.hpp"

#include <mpi.h>
#include <petscsys.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "msrom/core/errors.hpp"

namespace msrom {

namespace {
std::string g_command_line;
std::vector<std::string> g_cli_keys;

// An option key is a dash followed by a letter (PETSc's rule): "-0.8,0.8" and "-1e-3" are values.
bool is_key(const std::string& s) {
  return s.size() >= 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1]));
}
}  // namespace

const std::string& command_line() { return g_command_line; }

bool on_command_line(const std::string& name) {
  for (const auto& k : g_cli_keys)
    if (k == name) return true;
  return false;
}

void petsc_throw(PetscErrorCode ierr, const char* call, const char* file, int line) {
  const char* text = nullptr;
  PetscErrorMessage(ierr, &text, nullptr);
  throw RuntimeError(std::string("PETSc error ") + std::to_string(ierr) + " (" + (text ? text : "?") +
                     ") in " + call + " at " + file + ":" + std::to_string(line));
}

Session::Session(int& argc, char**& argv, bool petsc_args, int command_words) {
  for (int i = 0; i < argc; ++i) command_line_ += (i ? " " : "") + std::string(argv[i]);
  g_command_line = command_line_;

  // Take the options files out of argv: PETSc must not parse them inside PetscInitialize.
  std::vector<char*> keep{argv[0]};
  for (int i = 1 + command_words; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-options_file_yaml" || a == "-options_file") && i + 1 < argc) {
      files_.emplace_back(a, argv[++i]);
      continue;
    }
    if (args_.empty() && !is_key(a)) {
      positionals_.push_back(a);
      continue;
    }
    // PETSc would print its own long help inside PetscInitialize; msrom's -help lists msrom's options
    // (the option is re-applied after initialisation with the rest of the command line).
    if (a != "-help" && a != "-h") keep.push_back(argv[i]);
    args_.push_back(a);
  }
  int kargc = static_cast<int>(keep.size());
  keep.push_back(nullptr);
  char** kargv = keep.data();

  int provided = 0;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int one = 1;
  char* progname = argv[0];
  char* solo[] = {progname, nullptr};
  char** solo_argv = solo;
  if (petsc_args) {
    PetscInitialize(&kargc, &kargv, nullptr, nullptr);
  } else {
    PetscInitialize(&one, &solo_argv, nullptr, nullptr);
    args_.clear();
  }
  PetscPushErrorHandler(PetscReturnErrorHandler, nullptr);
}

Session::~Session() {
  PetscPopErrorHandler();
  PetscFinalize();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

void Session::load_options() {
  for (const auto& [opt, file] : files_) {
    if (!std::ifstream(file).good()) throw InputError(opt + ": cannot open '" + file + "'");
    PetscErrorCode ierr = opt == "-options_file_yaml"
                              ? PetscOptionsInsertFileYAML(PETSC_COMM_WORLD, nullptr, file.c_str(), PETSC_TRUE)
                              : PetscOptionsInsertFile(PETSC_COMM_WORLD, nullptr, file.c_str(), PETSC_TRUE);
    if (ierr) {
      const char* text = nullptr;
      PetscErrorMessage(ierr, &text, nullptr);
      throw InputError(opt + ": cannot parse '" + file + "' (" + (text ? text : "malformed file") + ")");
    }
  }
  // The command line wins over the files.
  for (std::size_t i = 0; i < args_.size(); ++i) {
    if (!is_key(args_[i])) continue;
    g_cli_keys.push_back(args_[i].substr(1));
    const char* value = nullptr;
    if (i + 1 < args_.size() && !is_key(args_[i + 1])) value = args_[i + 1].c_str();
    MSROM_PETSC(PetscOptionsSetValue(nullptr, args_[i].c_str(), value));
  }
}

}  // namespace msrom
