#include "msrom/core/options.hpp"

#include <mpi.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <sstream>

#include "msrom/core/errors.hpp"
#include "msrom/core/session.hpp"

namespace msrom {

namespace {

struct Entry {
  std::string section, name, def, help;
};
std::vector<Entry>& registry() {
  static std::vector<Entry> entries;
  return entries;
}

void record(const std::string& section, const std::string& name, const std::string& def, const std::string& help) {
  for (const auto& e : registry())
    if (e.name == name) return;
  registry().push_back({section, name, def, help});
}

// The raw value of -name, or false if absent. A present option without value gives "".
bool raw(const std::string& name, std::string& value) {
  char buf[4096] = {0};
  PetscBool set = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsGetString(nullptr, nullptr, ("-" + name).c_str(), buf, sizeof buf, &set));
  if (set) value = buf;
  return set;
}

std::string fmt(double v) {
  char b[64];
  std::snprintf(b, sizeof b, "%g", v);
  return b;
}

[[noreturn]] void bad(const std::string& name, const std::string& why, const std::string& got) {
  throw InputError("-" + name + ": " + why + " (got '" + got + "')");
}

double parse_real(const std::string& name, const std::string& s) {
  if (s.empty()) bad(name, "needs a number", s);
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (*end != '\0' || errno == ERANGE) bad(name, "not a number", s);
  if (!std::isfinite(v)) bad(name, "must be finite", s);
  return v;
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::string item;
  std::istringstream in(s);
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

template <class T>
std::string join(const std::vector<T>& v) {
  std::ostringstream o;
  for (std::size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  return o.str();
}

}  // namespace

double Options::real(const std::string& name, double def, const std::string& help, double min, double max,
                     bool min_exclusive) const {
  record(section_, name, fmt(def), help);
  std::string s;
  if (!raw(name, s)) return def;
  double v = parse_real(name, s);
  if (min_exclusive ? !(v > min) : !(v >= min))
    bad(name, std::string("must be ") + (min_exclusive ? "> " : ">= ") + fmt(min), s);
  if (v > max) bad(name, "must be <= " + fmt(max), s);
  return v;
}

long Options::integer(const std::string& name, long def, const std::string& help, long min, long max) const {
  record(section_, name, std::to_string(def), help);
  std::string s;
  if (!raw(name, s)) return def;
  // Accept integral reals such as 1e6 (a common way of writing step counts).
  double v = parse_real(name, s);
  if (v != std::floor(v) || std::fabs(v) > 9.0e18) bad(name, "not an integer", s);
  long n = static_cast<long>(v);
  if (n < min) bad(name, "must be >= " + std::to_string(min), s);
  if (n > max) bad(name, "must be <= " + std::to_string(max), s);
  return n;
}

bool Options::flag(const std::string& name, bool def, const std::string& help) const {
  record(section_, name, def ? "true" : "false", help);
  std::string s;
  if (!raw(name, s)) return def;
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (s.empty() || s == "1" || s == "true" || s == "yes" || s == "on") return true;
  if (s == "0" || s == "false" || s == "no" || s == "off") return false;
  bad(name, "expects true or false", s);
}

std::string Options::string(const std::string& name, const std::string& def, const std::string& help) const {
  record(section_, name, def.empty() ? "\"\"" : def, help);
  std::string s;
  if (!raw(name, s)) return def;
  if (s.empty()) bad(name, "needs a value", s);
  return s;
}

std::string Options::choice(const std::string& name, const std::string& def, const std::vector<std::string>& allowed,
                            const std::string& help) const {
  record(section_, name, def, help + " (" + [&] {
                                std::string a;
                                for (const auto& w : allowed) a += (a.empty() ? "" : "|") + w;
                                return a;
                              }() + ")");
  std::string s;
  if (!raw(name, s)) return def;
  for (const auto& w : allowed)
    if (s == w) return s;
  std::string list;
  for (const auto& w : allowed) list += (list.empty() ? "" : ", ") + w;
  bad(name, "must be one of " + list, s);
}

std::vector<double> Options::reals(const std::string& name, const std::vector<double>& def,
                                   const std::string& help) const {
  record(section_, name, join(def), help);
  std::string s;
  if (!raw(name, s)) return def;
  std::vector<double> out;
  for (const auto& item : split(s)) out.push_back(parse_real(name, item));
  if (out.empty()) bad(name, "needs a comma-separated list of numbers", s);
  return out;
}

std::vector<std::string> Options::strings(const std::string& name, const std::vector<std::string>& def,
                                          const std::string& help) const {
  record(section_, name, join(def), help);
  std::string s;
  if (!raw(name, s)) return def;
  auto out = split(s);
  if (out.empty()) bad(name, "needs a comma-separated list", s);
  return out;
}

bool Options::given(const std::string& name) {
  PetscBool set = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsHasName(nullptr, nullptr, ("-" + name).c_str(), &set));
  return set;
}

bool help_requested() {
  PetscBool h = PETSC_FALSE, hh = PETSC_FALSE;
  MSROM_PETSC(PetscOptionsHasName(nullptr, nullptr, "-help", &h));
  MSROM_PETSC(PetscOptionsHasName(nullptr, nullptr, "-h", &hh));
  return h || hh;
}

void print_help(const std::string& usage) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) return;
  std::printf("%s\n", usage.c_str());
  std::string section;
  for (const auto& e : registry()) {
    if (e.section != section) {
      section = e.section;
      std::printf("\n%s:\n", section.c_str());
    }
    std::printf("  -%-28s %s [default: %s]\n", e.name.c_str(), e.help.c_str(), e.def.c_str());
  }
  std::printf("\nOptions can also come from a YAML file: -options_file_yaml FILE (nested keys join with '_';\n"
              "the command line overrides the file). PETSc's own options (-log_view, -ts_*) apply as usual.\n");
  std::fflush(stdout);
}

UnlistedOptionReads::UnlistedOptionReads() : mark_(registry().size()) {}
UnlistedOptionReads::~UnlistedOptionReads() {
  if (registry().size() > mark_) registry().resize(mark_);
}

void reject_unused_options(const std::vector<std::string>& foreign_sections) {
  PetscInt n = 0;
  char** names = nullptr;
  char** values = nullptr;
  MSROM_PETSC(PetscOptionsLeftGet(nullptr, &n, &names, &values));
  std::string first;
  for (PetscInt i = 0; i < n && first.empty(); ++i) {
    std::string name = names[i];
    // Options PETSc itself consumes outside our reads, or that only steer help/diagnostics.
    if (name == "help" || name == "h" || name == "options_left" || name.rfind("malloc", 0) == 0 ||
        name.rfind("log", 0) == 0 || name.rfind("info", 0) == 0 || name == "no_signal_handler" ||
        name == "on_error_abort" || name == "start_in_debugger" || name == "fp_trap")
      continue;
    bool foreign = false;
    if (!on_command_line(name))
      for (const auto& sec : foreign_sections) {
        if (name.rfind(sec, 0) != 0) continue;
        // A section this command reads itself is its own to check.
        bool own = false;
        for (const auto& e : registry()) own = own || e.name.rfind(sec, 0) == 0;
        foreign = foreign || !own;
      }
    if (!foreign) first = name;
  }
  MSROM_PETSC(PetscOptionsLeftRestore(nullptr, &n, &names, &values));
  if (!first.empty()) throw InputError("-" + first + ": unknown option (no command reads it; see -help)");
}

}  // namespace msrom
