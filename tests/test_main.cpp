// Catch2 main shared by all test executables: MPI and PETSc are initialised once around the session, with
// PETSc's error handler set to return (as in the program), so library calls throw instead of aborting.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include "msrom/core/session.hpp"

int main(int argc, char** argv) {
  msrom::Session session(argc, argv, /*petsc_args=*/false);
  Catch::Session catch_session;
  if (int rc = catch_session.applyCommandLine(argc, argv)) return rc;
  return catch_session.run();
}
