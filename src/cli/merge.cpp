// msrom merge: joins the rollouts files of one ensemble run in parts into the file that a single run of all
// its members writes.
//
// A part is `msrom ensemble -members M -ensemble_member_begin B -ensemble_member_count C` (a Slurm array
// task, job_scripts/ensemble_array.sbatch): members B..B+C-1 of the M-member ensemble, with the random
// streams of their global indices. The parts must come from the same model and options (model, seed,
// dt, steps, saving and statistics options, M) and cover 0..M-1 exactly once.
//
// What equals the single run bit for bit ("content"): every dataset and every dataset attribute —
//   /time, /ensemble/state (rows copied to their global index), /ensemble/status, and the statistics
//   /ensemble/stats/... recomputed from the parts' raw sums (/ensemble/stats/partial: integer counts
//   added, member sums combined in the same member tree as one run, rom/ensemble.hpp).
// The root attributes describe the process that wrote the file (command, created, options, nranks) and
// differ; the run's own settings among them (model, seed, dt, steps, ...) are the same.
//
// Sample runs:
//   msrom merge -inputs parts/rollouts_0.h5,parts/rollouts_1.h5 -output rollouts.h5
//   msrom merge -inputs 'parts/rollouts_*.h5' -output rollouts.h5      (a quoted glob, expanded by msrom)
#include <glob.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "commands.hpp"
#include "msrom/core/comm.hpp"
#include "msrom/core/errors.hpp"
#include "msrom/core/hdf5.hpp"
#include "msrom/core/options.hpp"
#include "msrom/rom/ensemble.hpp"

namespace msrom::cli {

namespace {

// The root attributes every part of one ensemble shares (numbers), as rom/ensemble.cpp writes them.
const char* const kShared[] = {"seed", "members_total", "dt", "steps", "burn_in", "save_every", "stats_every",
                               "max_lag", "threshold", "bound"};

struct Part {
  std::string path;
  std::int64_t begin = 0, count = 0;
  std::string model, model_file;
  std::map<std::string, double> shared;
  h5::Shape state;
  std::vector<double> time, status;
  rom::StreamingSums sums;
};

std::string range(std::int64_t a, std::int64_t b) { return std::to_string(a) + ".." + std::to_string(b - 1); }

// Expands the -inputs list: a word with * ? [ is a glob (sorted matches; none is an error).
std::vector<std::string> expand(const std::vector<std::string>& items) {
  std::vector<std::string> out;
  for (const auto& it : items) {
    if (it.find_first_of("*?[") == std::string::npos) {
      out.push_back(it);
      continue;
    }
    glob_t g{};
    const int rc = glob(it.c_str(), 0, nullptr, &g);
    std::vector<std::string> found(g.gl_pathv, g.gl_pathv + (rc == 0 ? g.gl_pathc : 0));
    globfree(&g);
    if (found.empty()) throw InputError("-inputs: no file matches '" + it + "'");
    std::sort(found.begin(), found.end());
    out.insert(out.end(), found.begin(), found.end());
  }
  return out;
}

Part read_part(const std::string& path) {
  const auto f = h5::File::open(path, "-inputs");
  Part p;
  p.path = path;
  for (const char* a : {"model", "member_begin", "member_count"})
    if (!f.has_attribute("/", a))
      throw InputError("-inputs: '" + path + "' is not a rollouts file of msrom ensemble (no root attribute " + a + ")");
  for (const char* d : {"/time", "/ensemble/state", "/ensemble/status"})
    if (!f.exists(d)) throw InputError("-inputs: '" + path + "' has no " + d + " (an unfinished run?)");
  p.model = f.read_string_attribute("/", "model");
  p.model_file = f.has_attribute("/", "model_file") ? f.read_string_attribute("/", "model_file") : "";
  p.begin = static_cast<std::int64_t>(f.read_double_attribute("/", "member_begin"));
  p.count = static_cast<std::int64_t>(f.read_double_attribute("/", "member_count"));
  for (const char* a : kShared) {
    if (!f.has_attribute("/", a)) throw InputError("-inputs: '" + path + "' has no root attribute " + a);
    p.shared[a] = f.read_double_attribute("/", a);
  }
  p.state = f.shape("/ensemble/state");
  p.time = f.read("/time");
  p.status = f.read("/ensemble/status");
  if (p.state.size() != 3 || p.state[0] != static_cast<hsize_t>(p.count) || p.status.size() != static_cast<std::size_t>(p.count))
    throw InputError("-inputs: '" + path + "': /ensemble/state or /ensemble/status does not hold its " +
                     std::to_string(p.count) + " members");
  p.sums = rom::read_streaming_sums(f);
  // The tree nodes must cover exactly this part's members.
  std::int64_t at = p.begin;
  const auto M = static_cast<std::int64_t>(p.shared["members_total"]);
  for (const auto& n : p.sums.nodes) {
    const std::int64_t lo = n.index << n.level, hi = std::min<std::int64_t>((n.index + 1) << n.level, M);
    if (lo != at) at = -1;
    else at = hi;
  }
  if (at != p.begin + p.count)
    throw InputError("-inputs: '" + path + "': /ensemble/stats/partial does not cover members " +
                     range(p.begin, p.begin + p.count));
  return p;
}

std::string number(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.17g", v);
  return b;
}

}  // namespace

int merge(Session&) {
  Options o("merge");
  const auto items = o.strings("inputs", {}, "rollouts files of the parts, comma-separated; a quoted glob "
                               "('parts/rollouts_*.h5') is expanded");
  const std::string output = o.string("output", "rollouts.h5", "merged rollouts file");
  if (finish_options("usage: msrom merge -inputs a.h5,b.h5,...|'parts/*.h5' -output rollouts.h5")) return 0;
  check_output_path("-output", output);
  const auto paths = expand(items);
  if (paths.empty()) throw InputError("-inputs: no input files (a comma-separated list or a quoted glob)");

  // 1. Read and check the parts: one ensemble, every member exactly once.
  std::vector<Part> parts;
  for (const auto& p : paths) parts.push_back(read_part(p));
  const Part& first = parts.front();
  for (const auto& p : parts) {
    if (p.model != first.model)
      throw InputError("-inputs: '" + p.path + "' is of model '" + p.model + "', '" + first.path + "' of '" +
                       first.model + "'");
    for (const auto& [name, value] : first.shared)
      if (p.shared.at(name) != value)
        throw InputError("-inputs: '" + p.path + "' has " + name + " = " + number(p.shared.at(name)) + ", '" +
                         first.path + "' " + number(value));
    if (p.time != first.time || p.state[1] != first.state[1] || p.state[2] != first.state[2])
      throw InputError("-inputs: '" + p.path + "' has other save times or dimensions than '" + first.path + "'");
  }
  std::stable_sort(parts.begin(), parts.end(), [](const Part& a, const Part& b) { return a.begin < b.begin; });
  const auto M = static_cast<std::int64_t>(first.shared.at("members_total"));
  std::int64_t next = 0;
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    if (p.begin < next)
      throw InputError("-inputs: '" + p.path + "' (members " + range(p.begin, p.begin + p.count) + ") overlaps '" +
                       parts[i - 1].path + "' (members " + range(parts[i - 1].begin, next) + ")");
    if (p.begin > next)
      throw InputError("-inputs: members " + range(next, p.begin) + " are missing (no part before '" + p.path + "')");
    next = p.begin + p.count;
  }
  if (next != M)
    throw InputError("-inputs: members " + range(next, M) + " of " + std::to_string(M) + " are missing (no part after '" +
                     parts.back().path + "')");

  // 2. The merged file: the same datasets as one run of all members.
  const double t0 = MPI_Wtime();
  const auto nsave = first.state[1], d = first.state[2];
  h5::OutputFile out(output, MPI_COMM_WORLD);
  out.write_root_attributes(static_cast<std::uint64_t>(first.shared.at("seed")));
  out.attribute("/", "model", first.model);
  out.attribute("/", "model_file", first.model_file);
  out.attribute("/", "members_total", M);
  out.attribute("/", "member_begin", std::int64_t{0});
  out.attribute("/", "member_count", M);
  for (const auto& [name, value] : first.shared)
    if (name != "seed" && name != "members_total") out.attribute("/", name, value);
  out.attribute("/", "merged_from", paths);
  out.write("/time", first.time);
  // The trajectories, copied part by part in blocks of members (at most ~64 MB each) by rank 0.
  auto state = out.create("/ensemble/state", {static_cast<hsize_t>(M), nsave, d});
  const hsize_t row = std::max<hsize_t>(1, nsave * d), block = std::max<hsize_t>(1, (hsize_t{1} << 23) / row);
  const auto in_root = rank() == 0;
  std::vector<double> status;
  for (const auto& p : parts) {
    const auto f = h5::File::open(p.path, "-inputs");
    for (hsize_t m = 0; nsave > 0 && m < static_cast<hsize_t>(p.count); m += block) {
      const hsize_t n = std::min<hsize_t>(block, static_cast<hsize_t>(p.count) - m);
      std::vector<double> rows;
      if (in_root) rows = f.read_slab("/ensemble/state", {m, 0, 0}, {n, nsave, d});
      out.write_slab(state, {static_cast<hsize_t>(p.begin) + m, 0, 0}, {in_root ? n : 0, nsave, d}, rows.data());
    }
    status.insert(status.end(), p.status.begin(), p.status.end());
  }
  out.write("/ensemble/status", status);
  // The statistics from the raw sums: counts added (integer-valued, exact), member sums in the member tree.
  rom::StreamingSums sums = first.sums;
  rom::MemberTree tree(M);
  for (std::size_t i = 0; i < parts.size(); ++i) {
    const auto& s = parts[i].sums;
    if (s.counts.size() != sums.counts.size() || s.lo != sums.lo || s.hi != sums.hi || s.sample_dt != sums.sample_dt ||
        s.threshold != sums.threshold || s.members != M)
      throw InputError("-inputs: '" + parts[i].path + "' has other statistics settings (histogram range, lags) than '" +
                       first.path + "'");
    if (i > 0)
      for (std::size_t k = 0; k < sums.counts.size(); ++k) sums.counts[k] += s.counts[k];
    for (const auto& n : s.nodes) tree.push(n);
  }
  sums.nodes = tree.nodes();
  double diverged = 0;
  for (double s : status) diverged += s;
  const Metrics metrics = rom::write_streaming_stats(out, sums, first.model, diverged);
  out.commit();
  if (rank() == 0)
    std::printf("merge: %zu parts, %lld members x %llu saves -> %s in %.2f s\n", parts.size(), static_cast<long long>(M),
                static_cast<unsigned long long>(nsave), output.c_str(), MPI_Wtime() - t0);
  print_metrics(metrics);
  return 0;
}

}  // namespace msrom::cli
