#pragma once
// Output paths and small text outputs.
//
// Every output is checked before any work starts (an unwritable path is bad input: exit 2, naming the
// option), and written under a temporary name that is renamed when complete.
#include <mpi.h>

#include <functional>
#include <map>
#include <string>

namespace msrom {

// Throws InputError naming `option` unless the directory of `path` exists and is writable.
void check_output_path(const std::string& option, const std::string& path);
// Creates directory `dir` (and parents) if needed; InputError naming `option` if that fails.
void make_output_directory(const std::string& option, const std::string& dir);
// Writes text to path + ".part" and renames it to path.
void write_text_atomically(const std::string& path, const std::string& text);
std::string join_path(const std::string& dir, const std::string& name);

// metrics.json: a flat map name -> number (`std.data`, `residence_time.data`, `kl.langevin`, ...),
// written sorted by name so that files diff cleanly. Non-finite values are written as null.
class Metrics {
 public:
  void set(const std::string& name, double value) { values_[name] = value; }
  void merge(const Metrics& other);
  bool has(const std::string& name) const { return values_.count(name) > 0; }
  double get(const std::string& name) const;
  const std::map<std::string, double>& values() const { return values_; }
  std::string json() const;
  void write(const std::string& path) const { write_text_atomically(path, json()); }
  // Reads a file written by write(); InputError naming the file if it is not such a file.
  static Metrics read(const std::string& path);
  // Parses JSON text written by json(); `source` names it in errors.
  static Metrics parse(const std::string& text, const std::string& source);

 private:
  std::map<std::string, double> values_;
};

// Runs `work` on rank 0 only (analyses that read whole files) and gives its metrics to every rank. An
// exception on rank 0 is rethrown on every rank, so all exit the same way: an InputError stays one, a
// std::invalid_argument becomes an InputError prefixed with `source` (the option and file at fault; read
// when the error is caught, so `work` may update the string it refers to), and
// anything else a RuntimeError.
Metrics on_root(const std::function<Metrics()>& work, const std::string& source, MPI_Comm comm = MPI_COMM_WORLD);

}  // namespace msrom
