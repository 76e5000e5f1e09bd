#pragma once
// The process-wide run-time: MPI and PETSc initialisation, and the options database filled from the
// command line and an optional YAML file, with the command line taking precedence.
//
// Why not let PetscInitialize read -options_file_yaml itself: PETSc parses that file inside
// PetscInitialize, and a broken file then aborts with a long trace and exit 76. msrom takes the option out
// of argv first, initialises PETSc, then inserts the file under PetscReturnErrorHandler (a bad file becomes
// an InputError: exit 2, one line), and finally re-applies the command-line options so they override the
// file's values.
#include <string>
#include <vector>

namespace msrom {

class Session {
 public:
  // petsc_args: hand argv's options to PETSc (the program); tests pass false so that Catch2 keeps them.
  // command_words: how many words after the program name name the command (`msrom simulate`): recorded
  // in the command line, not options.
  Session(int& argc, char**& argv, bool petsc_args = true, int command_words = 0);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Inserts the YAML/plain options files named on the command line, then the command line again (it wins).
  // Throws InputError for an unreadable or malformed file. Call once, inside the program's try block.
  void load_options();

  // The command line as typed (for the `command` attribute of output files).
  const std::string& command_line() const { return command_line_; }
  // Arguments before the first option that are not options (`msrom stats data.h5`).
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::vector<std::string> args_;  // options from argv, in order, without the options-file pairs
  std::vector<std::pair<std::string, std::string>> files_;  // (option name, file) in order
  std::vector<std::string> positionals_;
  std::string command_line_;
};

// The command line recorded by the live Session ("" if none).
const std::string& command_line();
// Whether option `name` (without dash) was typed on the command line (as opposed to coming from a file).
bool on_command_line(const std::string& name);

}  // namespace msrom
