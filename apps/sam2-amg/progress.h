#pragma once
/// Progress on standard error: a redrawn bar on a terminal, plain periodic lines otherwise.
/// Never writes to standard output.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

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
    std::fputs(line(done, total_, masks, failed, secs, mode_ == Mode::kBar ? terminal_width() : 0).c_str(), stderr);
    if (mode_ == Mode::kBar && last) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

  /// Ends a bar line early (before other log output, or on interruption).
  void interrupt() {
    if (mode_ == Mode::kBar) std::fputc('\n', stderr);
  }

  /// One progress report: done/total, rate, elapsed time, ETA, masks, failures. With a `width`
  /// (a bar on a terminal of that many columns): "\r", a bar and the stats, shortened to leave
  /// the last column free so the line never wraps; with width 0: "progress: <stats>\n".
  static std::string line(size_t done, size_t total, size_t masks, size_t failed, double secs, int width) {
    const double rate = secs > 0 ? done / secs : 0.0;
    const double eta = rate > 0 ? (total - done) / rate : 0.0;
    // Fields two spaces apart on a line of their own, one space apart beside a bar.
    const char* gap = width <= 0 ? "  " : " ";
    char stats[240];
    std::snprintf(stats, sizeof stats, "%zu/%zu images%s%.2f img/s%selapsed %s%sETA %s%s%zu masks%s%zu failed", done,
                  total, gap, rate, gap, clock_str(secs).c_str(), gap, clock_str(eta).c_str(), gap, masks, gap, failed);
    if (width <= 0) return std::string("progress: ") + stats + "\n";
    const int room = width - 1;  // a terminal wraps a line that fills its last column
    const int bar_width = std::min(30, room - static_cast<int>(std::strlen(stats)) - 3);
    std::string out;
    if (bar_width >= 5) {  // narrower: the stats alone
      const int filled = total ? static_cast<int>(bar_width * done / total) : bar_width;
      std::string bar(filled, '=');
      if (filled < bar_width) bar += '>' + std::string(bar_width - filled - 1, ' ');
      out = "[" + bar + "] ";
    }
    out += stats;
    if (static_cast<int>(out.size()) > room) out.resize(static_cast<size_t>(std::max(0, room)));
    return "\r" + out + "\x1b[K";
  }

  /// Columns of the terminal on standard error: its TIOCGWINSZ size, else $COLUMNS, else 80.
  static int terminal_width() {
    struct winsize ws {};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    if (const char* c = std::getenv("COLUMNS")) {
      const int n = std::atoi(c);
      if (n > 0) return n;
    }
    return 80;
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
