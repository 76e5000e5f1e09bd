#include <petscsys.h>

#include "commands.hpp"
#include "msrom/core/options.hpp"

namespace msrom::cli {

bool finish_options(const char* usage) {
  if (help_requested()) {
    print_help(usage);
    // PETSc would append its viewer help at PetscFinalize; msrom's list is complete.
    PetscOptionsClearValue(nullptr, "-help");
    PetscOptionsClearValue(nullptr, "-h");
    return true;
  }
  reject_unused_options();
  return false;
}

}  // namespace msrom::cli
