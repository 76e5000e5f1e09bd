#pragma once
// Progress of a long run, on rank 0's stderr: percentage, elapsed time and ETA, at most once a second on a
// terminal (one line rewritten in place) and once a minute into a file (a line each: a batch log of an
// hours-long run stays readable). Mode (option -progress): auto = only when stderr is a terminal (then also
// a closing line with the total time), always (progress and closing line even into a file: batch logs),
// never. Milestones (note()) print whenever the progress would.
#include <chrono>
#include <string>

namespace msrom {

class Options;

enum class ProgressMode { automatic, always, never };
ProgressMode read_progress_mode(const Options& opts);

// Seconds left when `done` of `total` is done after `elapsed` seconds of a run that started at done_at_start:
// the rate of this run applied to what is left (0 before this run has done anything).
double progress_eta(double elapsed, double total, double done, double done_at_start);

class Progress {
 public:
  // done_at_start: the work a restarted run had already done (the ETA is the rate since the start of this
  // run applied to what is left; the percentage counts the whole run).
  Progress(std::string label, double total, ProgressMode mode, double done_at_start = 0);
  // `done` in the same units as total (steps, samples, ...). Cheap: checks the clock every call.
  void update(double done);
  // A milestone, "label: text", on its own line (on a terminal it replaces the progress line, which the next
  // update() redraws); rank 0 only, and only when progress is shown.
  void note(const std::string& text);
  // Prints the closing line ("label: done in 12.3 s") and returns the elapsed seconds.
  double finish();
  double elapsed() const;

 private:
  std::string label_;
  double total_, done_at_start_;
  bool live_ = false, quiet_ = false, tty_ = false, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace msrom
