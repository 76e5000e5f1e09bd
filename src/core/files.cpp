#include "msrom/core/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"

namespace msrom {

namespace {
std::string parent_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
bool is_dir(const std::string& d) {
  struct stat st{};
  return stat(d.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
}  // namespace

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

void check_output_path(const std::string& option, const std::string& path) {
  if (path.empty()) throw InputError(option + ": needs a file name");
  if (is_dir(path)) throw InputError(option + ": '" + path + "' is a directory, expected a file name");
  const std::string dir = parent_of(path);
  if (!is_dir(dir)) throw InputError(option + ": directory '" + dir + "' does not exist");
  if (access(dir.c_str(), W_OK) != 0) throw InputError(option + ": directory '" + dir + "' is not writable");
}

void make_output_directory(const std::string& option, const std::string& dir) {
  if (dir.empty()) throw InputError(option + ": needs a directory name");
  std::string partial;
  std::istringstream in(dir);
  std::string part;
  if (dir[0] == '/') partial = "/";
  while (std::getline(in, part, '/')) {
    if (part.empty()) continue;
    partial += part;
    if (!is_dir(partial) && mkdir(partial.c_str(), 0775) != 0 && errno != EEXIST)
      throw InputError(option + ": cannot create directory '" + partial + "'");
    partial += "/";
  }
  if (!is_dir(dir)) throw InputError(option + ": '" + dir + "' is not a directory");
  if (access(dir.c_str(), W_OK) != 0) throw InputError(option + ": directory '" + dir + "' is not writable");
}

void write_text_atomically(const std::string& path, const std::string& text) {
  const std::string part = path + ".part";
  {
    std::ofstream out(part, std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      std::remove(part.c_str());
      throw RuntimeError("cannot write '" + part + "'");
    }
  }
  if (std::rename(part.c_str(), path.c_str()) != 0) {
    std::remove(part.c_str());
    throw RuntimeError("cannot rename '" + part + "' to '" + path + "'");
  }
}

void Metrics::merge(const Metrics& other) {
  for (const auto& [k, v] : other.values_) values_[k] = v;
}

double Metrics::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw RuntimeError("metrics: no value named " + name);
  return it->second;
}

std::string Metrics::json() const {
  std::ostringstream o;
  o << "{\n";
  std::size_t i = 0;
  for (const auto& [k, v] : values_) {
    char num[64];
    if (std::isfinite(v))
      std::snprintf(num, sizeof num, "%.17g", v);
    else
      std::snprintf(num, sizeof num, "null");
    o << "  \"" << k << "\": " << num << (++i < values_.size() ? ",\n" : "\n");
  }
  o << "}\n";
  return o.str();
}

Metrics Metrics::read(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("'" + path + "': cannot open metrics file");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Metrics Metrics::parse(const std::string& s, const std::string& path) {
  Metrics m;
  std::size_t pos = s.find('{');
  if (pos == std::string::npos) throw InputError("'" + path + "': not a metrics JSON object");
  while (true) {
    const auto q0 = s.find('"', pos);
    if (q0 == std::string::npos) break;
    const auto q1 = s.find('"', q0 + 1);
    const auto colon = s.find(':', q1);
    if (q1 == std::string::npos || colon == std::string::npos)
      throw InputError("'" + path + "': malformed metrics JSON");
    const std::string key = s.substr(q0 + 1, q1 - q0 - 1);
    std::size_t v0 = s.find_first_not_of(" \t\n\r", colon + 1);
    if (v0 == std::string::npos) throw InputError("'" + path + "': malformed metrics JSON");
    if (s.compare(v0, 4, "null") == 0) {
      m.set(key, std::numeric_limits<double>::quiet_NaN());
      pos = v0 + 4;
    } else {
      char* end = nullptr;
      const double v = std::strtod(s.c_str() + v0, &end);
      if (end == s.c_str() + v0) throw InputError("'" + path + "': value of " + key + " is not a number");
      m.set(key, v);
      pos = static_cast<std::size_t>(end - s.c_str());
    }
  }
  return m;
}

Metrics on_root(const std::function<Metrics()>& work, const std::string& source, MPI_Comm comm) {
  Metrics metrics;
  int failed = 0;  // 2: input error, 1: runtime error
  std::string message;
  if (rank(comm) == 0) {
    try {
      metrics = work();
    } catch (const InputError& e) {
      failed = 2, message = e.what();
    } catch (const std::invalid_argument& e) {
      failed = 2, message = source + ": " + e.what();
    } catch (const std::exception& e) {
      failed = 1, message = e.what();
    }
  }
  MPI_Bcast(&failed, 1, MPI_INT, 0, comm);
  if (failed) {
    broadcast(message, comm);
    if (failed == 2) throw InputError(message);
    throw RuntimeError(message);
  }
  std::string json = metrics.json();
  broadcast(json, comm);
  if (rank(comm) != 0) metrics = Metrics::parse(json, "broadcast metrics");
  return metrics;
}

}  // namespace msrom
