#include "io/json_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

std::string dump_json(const json& j, int indent) { return j.dump(indent, ' ', false, json::error_handler_t::replace); }

void write_file_atomically(const std::string& path, const std::string& data) {
  AtomicFile f(path);
  f.put(data);
  f.commit();
}

// "<path>.<pid>.tmp": two processes writing one file (shards writing --out-dir's run.json)
// never share a temporary file.
AtomicFile::AtomicFile(std::string path)
    : path_(std::move(path)), tmp_(path_ + "." + std::to_string(::getpid()) + ".tmp") {
  f_ = std::fopen(tmp_.c_str(), "wb");
  if (!f_) throw OutputError(tmp_, std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (!f_) return;
  std::fclose(f_);  // not committed: the temporary file is this process's own, and goes
  std::remove(tmp_.c_str());
}

void AtomicFile::put(const std::string& s) {
  if (std::fwrite(s.data(), 1, s.size(), f_) != s.size()) throw OutputError(tmp_, "write failed (disk full?)");
}

void AtomicFile::commit() {
  const bool ok = std::fflush(f_) == 0;
  std::fclose(f_);
  f_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    throw OutputError(tmp_, "write failed (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::remove(tmp_.c_str());
    throw OutputError(path_, ec.message());
  }
}

JsonLinesFile::JsonLinesFile(std::string path, bool append) : path_(std::move(path)) {
  f_ = path_ == "-" ? stdout : std::fopen(path_.c_str(), append ? "ab" : "wb");
  if (!f_) throw OutputError(path_, std::strerror(errno));
}

JsonLinesFile::~JsonLinesFile() { close(); }

void JsonLinesFile::write(const json& line) {
  const std::string s = dump_json(line) + "\n";
  if (std::fwrite(s.data(), 1, s.size(), f_) != s.size() || std::fflush(f_) != 0)
    throw OutputError(path_, std::strerror(errno));
}

bool JsonLinesFile::still_at_path() const {
  if (!f_ || f_ == stdout) return true;
  struct stat held {}, now {};
  return ::fstat(::fileno(f_), &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
         held.st_dev == now.st_dev;
}

void JsonLinesFile::close() {
  if (f_ && f_ != stdout) std::fclose(f_);
  f_ = nullptr;
}

void keep_complete_lines(std::ifstream& in, const std::string& path, const std::function<bool(const json&)>& accept) {
  std::uintmax_t good = static_cast<std::uintmax_t>(in.tellg());
  for (std::string s; std::getline(in, s);) {
    if (in.eof()) break;  // no newline: a torn line
    const json line = json::parse(s, nullptr, false);
    if (line.is_discarded() || !accept(line)) break;
    good = static_cast<std::uintmax_t>(in.tellg());
  }
  in.close();
  std::error_code ec;
  fs::resize_file(path, good, ec);
  if (ec) throw OutputError(path, ec.message());
}

}  // namespace sam2amg
