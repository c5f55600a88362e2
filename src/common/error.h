#pragma once
/// Typed errors. Every error carries the process exit code the CLI returns for it and a message
/// that says what to do. Library code throws these; only apps/ catches and prints them.
/// Exit codes (stable, documented in README "Exit codes"):
///   0 done, 1 internal, 2 usage/config, 3 model, 4 some inputs unreadable (do not retry),
///   5 output not writable, 6 merge found missing or unfinished shards,
///   75 transient runtime failure such as a device error (retry),
///   128 + signal when interrupted (130 SIGINT, 143 SIGTERM).
#include <stdexcept>
#include <string>

#include "common/printable.h"

namespace sam2amg {

enum class ExitCode : int {
  kOk = 0,
  kInternal = 1,
  kUsage = 2,
  kModel = 3,
  kImage = 4,
  kOutput = 5,
  kIncomplete = 6,  // merge: shards missing or unfinished
  kTransient = 75,  // EX_TEMPFAIL
  kReaderGone = 141,  // 128 + SIGPIPE: the reader of standard output closed it (`| head`)
};

/// Base class of all sam2-amg errors.
class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  /// The process exit code for this error.
  int exit_code() const noexcept { return static_cast<int>(code_); }

 private:
  ExitCode code_;
};

/// Invalid flag, config value or parameter combination.
class UsageError : public Error {
 public:
  explicit UsageError(const std::string& message) : Error(ExitCode::kUsage, message) {}
};

/// The model file is missing, unreadable or breaks docs/model-contract.md.
class ModelError : public Error {
 public:
  explicit ModelError(const std::string& message) : Error(ExitCode::kModel, message) {}
};

/// One input image cannot be used (e.g. too small for its crop layers); the run reports it and
/// goes on with the next image.
class ImageError : public Error {
 public:
  explicit ImageError(const std::string& why) : Error(ExitCode::kImage, why) {}
};

/// One input image cannot be read (missing, truncated, oversized, undecodable): names the file
/// (printable(): escaped for the log).
class ImageReadError : public ImageError {
 public:
  ImageReadError(const std::string& path, const std::string& why)
      : ImageError("cannot read image '" + printable(path) + "': " + why), path_(path) {}
  const std::string& path() const noexcept { return path_; }

 private:
  std::string path_;
};

/// The device failed (out of memory even at the smallest batch): a retry later, or on a freer
/// device, may succeed. Exit 75; rerun with --resume.
class DeviceError : public Error {
 public:
  explicit DeviceError(const std::string& message) : Error(ExitCode::kTransient, message) {}
};

/// An output file cannot be written (disk full, permissions, missing folder); names it escaped.
class OutputError : public Error {
 public:
  OutputError(const std::string& path, const std::string& why)
      : Error(ExitCode::kOutput, "cannot write '" + printable(path) + "': " + why) {}
};

/// The reader of standard output (--jsonl -) closed its end: the run stops quietly with the
/// status a shell pipeline expects of a writer whose reader left (141, as if killed by SIGPIPE).
class ReaderGoneError : public Error {
 public:
  ReaderGoneError() : Error(ExitCode::kReaderGone, "standard output was closed by its reader") {}
};

}  // namespace sam2amg
