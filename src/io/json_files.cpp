#include "io/json_files.h"

#include <fcntl.h>
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
  // The data reaches the disk before the rename makes it the file: otherwise a crash soon after
  // can leave an empty file where the old one was.
  bool ok = std::fflush(f_) == 0;
  ok = ::fsync(::fileno(f_)) == 0 && ok;
  const int err = errno;
  std::fclose(f_);
  f_ = nullptr;
  if (!ok) {
    std::remove(tmp_.c_str());
    throw OutputError(tmp_, std::string("write failed (disk full?): ") + std::strerror(err));
  }
  std::error_code ec;
  fs::rename(tmp_, path_, ec);
  if (ec) {
    std::remove(tmp_.c_str());
    throw OutputError(path_, ec.message());
  }
  sync_parent_folder(path_);  // the rename itself
}

void sync_parent_folder(const std::string& path) {
  const fs::path parent = fs::path(path).parent_path();
  const int fd = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

JsonLinesFile::JsonLinesFile(std::string path, bool append) : path_(std::move(path)) {
  fd_ = path_ == "-" ? STDOUT_FILENO
                     : ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (append ? 0 : O_TRUNC), 0644);
  if (fd_ < 0) throw OutputError(path_, std::strerror(errno));
}

JsonLinesFile::~JsonLinesFile() { close(); }

void JsonLinesFile::write(const json& line) {
  const std::string s = dump_json(line) + "\n";
  if (fd_ == STDOUT_FILENO) {
    // A pipe may take a line in parts; nothing can be cut back there.
    for (size_t done = 0; done < s.size();) {
      const ssize_t n = ::write(fd_, s.data() + done, s.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EPIPE) throw ReaderGoneError();  // `| head`: not a failure
      if (n < 0) throw OutputError(path_, std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    return;
  }
  const off_t end = ::lseek(fd_, 0, SEEK_END);
  const ssize_t n = ::write(fd_, s.data(), s.size());
  if (n == static_cast<ssize_t>(s.size())) return;
  // A short write is the disk filling up (or a file size limit): cut the part line off again.
  const std::string why = n < 0 ? std::strerror(errno) : "disk full or file size limit reached";
  if (end >= 0 && ::ftruncate(fd_, end) != 0)
    throw OutputError(path_, why + "; cutting off the incomplete last line failed too: " + std::strerror(errno));
  throw OutputError(path_, why);
}

bool JsonLinesFile::still_at_path() const {
  if (fd_ < 0 || fd_ == STDOUT_FILENO) return true;
  struct stat held {}, now {};
  return ::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
         held.st_dev == now.st_dev;
}

void JsonLinesFile::close() {
  if (fd_ >= 0 && fd_ != STDOUT_FILENO) ::close(fd_);
  fd_ = -1;
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
