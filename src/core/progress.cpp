#include "msrom/core/progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "msrom/core/comm.hpp"
#include "msrom/core/options.hpp"

namespace msrom {

ProgressMode read_progress_mode(const Options& opts) {
  const auto m = opts.choice("progress", "auto", {"auto", "always", "never"},
                             "progress report on stderr (auto: only on a terminal)");
  return m == "always" ? ProgressMode::always : m == "never" ? ProgressMode::never : ProgressMode::automatic;
}

namespace {
std::string hms(double s) {
  char b[32];
  if (s < 60)
    std::snprintf(b, sizeof b, "%.1f s", s);
  else if (s < 3600)
    std::snprintf(b, sizeof b, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  else
    std::snprintf(b, sizeof b, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) % 3600) / 60);
  return b;
}
}  // namespace

double progress_eta(double elapsed, double total, double done, double done_at_start) {
  const double now_done = done - done_at_start;
  return now_done > 0 ? elapsed * (total - done) / now_done : 0;
}

Progress::Progress(std::string label, double total, ProgressMode mode, double done_at_start)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      done_at_start_(done_at_start),
      start_(std::chrono::steady_clock::now()), last_(start_) {
  const bool root = rank() == 0;
  tty_ = isatty(STDERR_FILENO);
  live_ = root && (mode == ProgressMode::always || (mode == ProgressMode::automatic && tty_));
  quiet_ = !root || mode == ProgressMode::never || (mode == ProgressMode::automatic && !tty_);
}

double Progress::elapsed() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(double done) {
  if (!live_) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_).count() < (tty_ ? 1.0 : 60.0)) return;
  last_ = now;
  const double t = elapsed(), frac = done / total_, eta = progress_eta(t, total_, done, done_at_start_);
  std::fprintf(stderr, "%s%s: %5.1f%%  elapsed %s  ETA %s%s", tty_ ? "\r" : "", label_.c_str(), 100 * frac,
               hms(t).c_str(), hms(eta).c_str(), tty_ ? "   " : "\n");
  std::fflush(stderr);
}

void Progress::note(const std::string& text) {
  if (!live_) return;
  std::fprintf(stderr, "%s%s: %s%s\n", tty_ ? "\r" : "", label_.c_str(), text.c_str(), tty_ ? "\033[K" : "");
  std::fflush(stderr);
}

double Progress::finish() {
  const double t = elapsed();
  if (!finished_ && !quiet_) {
    std::fprintf(stderr, "%s%s: done in %s\n", live_ && tty_ ? "\r" : "", label_.c_str(), hms(t).c_str());
    std::fflush(stderr);
  }
  finished_ = true;
  return t;
}

}  // namespace msrom
