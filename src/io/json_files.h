#pragma once
/// How io/ writes files (internal to io/): one JSON text style, atomic files (temporary file,
/// then rename, so readers never see half a file) and append-only JSON-lines files that resume
/// from their complete lines.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

namespace sam2amg {

/// The one JSON text style of every output: compact (or indented), UTF-8 errors replaced.
std::string dump_json(const nlohmann::json& j, int indent = -1);

/// Writes `data` to `path` atomically. Throws OutputError.
void write_file_atomically(const std::string& path, const std::string& data);

/// The name of a new temporary file or folder beside `path` (in the same folder, so a rename
/// commits it): ".sam2amg-tmp-<tag>-<pid>-<n>", at most 48 bytes whatever the length of `path`'s
/// name, so it never passes NAME_MAX. `<tag>` names the output `path` belongs to (claim_temporaries),
/// "x" when none: the next run holding that output's lock removes what a killed one left.
std::string temporary_name_beside(const std::string& path);

/// While this process holds the lock of `output` (a file, or a folder and everything below it):
/// removes the temporaries an earlier holder of `lock_path` left (killed mid-write: only names of
/// temporary_name_beside's scheme with this output's tag, and of a temporary mask folder only the
/// files sam2-amg writes there), and tags this process's new temporaries of `output` so. Errors
/// are ignored: a temporary that stays is only clutter.
void claim_temporaries(const std::string& output, const std::string& lock_path);
/// Ends claim_temporaries (the lock is released).
void release_temporaries(const std::string& output);

/// A file written piece by piece into a temporary file beside `path` (temporary_name_beside) and
/// renamed to `path` by commit(); a file never committed (an error on the way) leaves no temporary
/// file. The temporary file is created new (O_EXCL, O_NOFOLLOW): never through a symbolic link.
/// commit() syncs the data to disk before the rename and the folder after it, so a crash leaves the
/// old file or the new one, never an empty one. This is the one place that commits files.
class AtomicFile {
 public:
  explicit AtomicFile(std::string path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;
  void put(const std::string& s);
  void commit();

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};

/// An append-only JSON-lines file (or standard output for "-"). Each line goes out in one
/// write(2); when the disk is full (or a size limit hit) the file is cut back to its last
/// complete line before OutputError is thrown, so it never holds a torn line but from a kill.
/// Opened with O_NOFOLLOW (a symbolic link at `path` is an OutputError, never written through);
/// without `append` the file is created new (O_EXCL), a regular file there unlinked first.
class JsonLinesFile {
 public:
  JsonLinesFile(std::string path, bool append);
  ~JsonLinesFile();
  JsonLinesFile(const JsonLinesFile&) = delete;
  JsonLinesFile& operator=(const JsonLinesFile&) = delete;
  void write(const nlohmann::json& line);
  /// False when the file at the path is no longer the one written (removed or replaced).
  bool still_at_path() const;
  void close();

 private:
  std::string path_;
  int fd_ = -1;
};

/// Syncs the folder holding `path` (after a rename into it). Errors are ignored: a file system
/// without folder sync has nothing to flush.
void sync_parent_folder(const std::string& path);

/// Resuming a JSON-lines file: reads lines from `in`'s position while `accept` takes them, then
/// cuts the file at `path` after the last accepted line (a torn or foreign tail is dropped).
void keep_complete_lines(std::ifstream& in, const std::string& path,
                         const std::function<bool(const nlohmann::json&)>& accept);

}  // namespace sam2amg
