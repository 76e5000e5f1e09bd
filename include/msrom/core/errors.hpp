#pragma once
// One way to report errors, for the whole project.
//
//   InputError   the user's input is wrong (unknown or invalid option, unreadable or malformed file,
//                unwritable output path): exit code 2 and a one-line reason naming the culprit.
//   RuntimeError something failed while running (a diverged solve, an I/O failure mid-run): exit code 1.
//
// Library code throws; only the program's main() turns an exception into an exit code (src/cli/main.cpp).
#include <petscsys.h>

#include <stdexcept>
#include <string>

namespace msrom {

class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntime = 1;
inline constexpr int kExitInput = 2;

// Turns a PETSc error code into a RuntimeError carrying PETSc's one-line message. PETSc's error handler is
// set to PetscReturnErrorHandler at start-up (core/session), so a failing call returns instead of aborting.
void petsc_throw(PetscErrorCode ierr, const char* call, const char* file, int line);

}  // namespace msrom

// Checks a PETSc call: MSROM_PETSC(VecDuplicate(x, &y));
#define MSROM_PETSC(call)                                               \
  do {                                                                  \
    PetscErrorCode msrom_ierr_ = (call);                                \
    if (msrom_ierr_) ::msrom::petsc_throw(msrom_ierr_, #call, __FILE__, __LINE__); \
  } while (0)
