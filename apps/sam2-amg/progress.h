#pragma once
/// Progress on standard error: a redrawn bar on a terminal, plain periodic lines otherwise.
/// Never writes to standard output.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "common/enum_names.h"

namespace sam2amg::cli {

/// --progress: how the run reports progress.
enum class ProgressSetting {
  kAuto,  ///< a bar on a terminal, lines otherwise
  kBar,
  kLines,
  kNone,
};

constexpr EnumNames<ProgressSetting, 4> enum_names(ProgressSetting) {
  return {"progress",
          {{{ProgressSetting::kAuto, "auto"}, {ProgressSetting::kBar, "bar"}, {ProgressSetting::kLines, "lines"},
            {ProgressSetting::kNone, "none"}}}};
}

class Progress {
 public:
  enum class Mode { kNone, kBar, kLines };

  /// kAuto picks a bar when stderr is a terminal (and TERM is not dumb), else lines.
  static Mode mode_for(ProgressSetting setting, bool quiet) {
    if (quiet || setting == ProgressSetting::kNone) return Mode::kNone;
    if (setting == ProgressSetting::kBar) return Mode::kBar;
    if (setting == ProgressSetting::kLines) return Mode::kLines;
    const char* term = std::getenv("TERM");
    const bool tty = isatty(STDERR_FILENO) && !(term && std::string(term) == "dumb");
    return tty ? Mode::kBar : Mode::kLines;
  }

  Progress(Mode mode, size_t total) : mode_(mode), total_(total), start_(Clock::now()), last_(start_) {}

  /// Called after each image.
  void update(size_t done, size_t masks, size_t failed) {
    const auto now = Clock::now();
    if (mode_ == Mode::kNone) return;
    const bool last = done == total_;
    if (mode_ == Mode::kLines && !last && now - last_ < std::chrono::seconds(10)) return;
    if (mode_ == Mode::kBar && !last && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? done / secs : 0.0;
    const double eta = rate > 0 ? (total_ - done) / rate : 0.0;
    char stats[160];
    std::snprintf(stats, sizeof stats, "%zu/%zu images  %.2f img/s  ETA %s  %zu masks  %zu failed", done, total_, rate,
                  clock_str(eta).c_str(), masks, failed);
    if (mode_ == Mode::kLines) {
      std::fprintf(stderr, "progress: %s\n", stats);
      return;
    }
    const int width = 30;
    const int filled = total_ ? static_cast<int>(width * done / total_) : width;
    std::string bar(filled, '=');
    if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
    std::fprintf(stderr, "\r[%s] %s\x1b[K", bar.c_str(), stats);
    if (last) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

  /// Ends a bar line early (before other log output, or on interruption).
  void interrupt() {
    if (mode_ == Mode::kBar) std::fputc('\n', stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static std::string clock_str(double s) {
    const long t = static_cast<long>(s + 0.5);
    char buf[32];
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    return buf;
  }

  Mode mode_;
  size_t total_;
  Clock::time_point start_, last_;
};

}  // namespace sam2amg::cli
