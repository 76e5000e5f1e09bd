#pragma once
// Typed access to the PETSc options database, with a record of every option a command reads.
//
// Every read names the option, its default and a help line. The record serves two purposes:
//   -help          lists every option of the command with its default (print_help), and
//   typo detection an option that nothing read is an error (reject_unused_options, exit 2).
// Values are validated where they are read, so a bad value is reported with the option's name:
//   `-ts_dt: must be > 0 (got -1)`.
// Names are given without the leading dash; a section is the heading under which -help lists them.
#include <petscsys.h>

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

namespace msrom {

class Options {
 public:
  explicit Options(std::string section) : section_(std::move(section)) {}

  double real(const std::string& name, double def, const std::string& help,
              double min = -std::numeric_limits<double>::infinity(),
              double max = std::numeric_limits<double>::infinity(), bool min_exclusive = false) const;
  // A real that must be > 0.
  double positive(const std::string& name, double def, const std::string& help) const {
    return real(name, def, help, 0.0, std::numeric_limits<double>::infinity(), true);
  }
  long integer(const std::string& name, long def, const std::string& help,
               long min = std::numeric_limits<long>::min(),
               long max = std::numeric_limits<long>::max()) const;
  bool flag(const std::string& name, bool def, const std::string& help) const;
  std::string string(const std::string& name, const std::string& def, const std::string& help) const;
  // One of a fixed set of words.
  std::string choice(const std::string& name, const std::string& def, const std::vector<std::string>& allowed,
                     const std::string& help) const;
  // Comma-separated list of reals (`-lead_times 0.5,1,2`).
  std::vector<double> reals(const std::string& name, const std::vector<double>& def, const std::string& help) const;
  std::vector<std::string> strings(const std::string& name, const std::vector<std::string>& def,
                                   const std::string& help) const;
  // Whether the option was given (a file, the command line), without reading it.
  static bool given(const std::string& name);

 private:
  std::string section_;
};

// -help or -h on the command line.
bool help_requested();
// Lists every option read so far, by section, with defaults and help; to stdout on rank 0.
void print_help(const std::string& usage);
// Option reads inside this scope leave no trace in the command's option list (its -help, and which sections
// count as its own in reject_unused_options): for reads against a private database pushed for the scope
// (pde::make_case with explicit settings, e.g. the coarse DNS's case).
class UnlistedOptionReads {
 public:
  UnlistedOptionReads();
  ~UnlistedOptionReads();
  UnlistedOptionReads(const UnlistedOptionReads&) = delete;
  UnlistedOptionReads& operator=(const UnlistedOptionReads&) = delete;

 private:
  std::size_t mark_;
};
// Throws InputError naming the first option that nothing read (call after every stage read its options).
// An unread option that came from a file (not the command line) is let through when its name starts with
// one of `foreign_sections`: a case file holds the options of every command, and the command that owns
// the section checks them when it runs.
void reject_unused_options(const std::vector<std::string>& foreign_sections = {});

}  // namespace msrom
