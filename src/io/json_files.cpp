#include "io/json_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <vector>

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

namespace {

constexpr const char* kTempPrefix = ".sam2amg-tmp-";

// Output -> the tag of its temporaries, while this process holds the output's lock.
struct TempTags {
  struct Tag {
    std::string tag;
    bool folder = false;
  };
  std::mutex m;
  std::map<std::string, Tag> tags;
};
TempTags& temp_tags() {
  static TempTags t;
  return t;
}

// The output `path` belongs to: the output itself or a folder output above it; a file output's
// siblings named after it ("F.json" -> "F.shard-...done.json") too.
std::string tag_of(const std::string& path) {
  TempTags& t = temp_tags();
  std::lock_guard<std::mutex> lock(t.m);
  for (const auto& [output, tag] : t.tags) {
    if (tag.folder) {
      if (path.size() > output.size() && path.compare(0, output.size(), output) == 0 && path[output.size()] == '/')
        return tag.tag;
      continue;
    }
    const fs::path o(output);
    const std::string family = (o.parent_path() / o.stem()).string() + ".";
    if (path == output || path.rfind(family, 0) == 0) return tag.tag;
  }
  return "x";
}

// What a temporary mask folder holds: "<i>.png", "metadata.csv", "sam2_amg.json", temporaries.
bool is_mask_folder_file(const std::string& name) {
  if (name == "metadata.csv" || name == "sam2_amg.json" || name.rfind(kTempPrefix, 0) == 0) return true;
  const size_t dot = name.find('.');
  if (dot == 0 || dot == std::string::npos || name.substr(dot) != ".png") return false;
  return name.find_first_not_of("0123456789") == dot;
}

// Removes the stale temporary `p`: a file, or a folder holding only what a mask folder holds.
void remove_stale(const fs::path& p, const fs::file_status& st) {
  std::error_code ec;
  if (fs::is_regular_file(st) || fs::is_symlink(st)) {
    fs::remove(p, ec);
    return;
  }
  if (!fs::is_directory(st)) return;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(p, ec)) {
    if (!is_mask_folder_file(e.path().filename().string()) || !e.is_regular_file(ec)) return;  // not ours: kept
    files.push_back(e.path());
  }
  for (const fs::path& f : files) fs::remove(f, ec);
  fs::remove(p, ec);
}

}  // namespace

std::string temporary_name_beside(const std::string& path) {
  static std::atomic<unsigned> counter{0};
  const fs::path p(path);
  const std::string name = std::string(kTempPrefix) + tag_of(path) + "-" + std::to_string(::getpid()) + "-" +
                           std::to_string(counter++);
  return (p.parent_path() / name).string();
}

void claim_temporaries(const std::string& output, const std::string& lock_path) {
  // FNV-1a of the lock's path: one lock, one tag; the lock is exclusive, so every temporary with
  // this tag is a dead holder's.
  std::uint64_t h = 1469598103934665603ull;
  for (const unsigned char c : fs::absolute(lock_path).lexically_normal().string()) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char tag[17];
  std::snprintf(tag, sizeof tag, "%016llx", static_cast<unsigned long long>(h));
  const std::string prefix = std::string(kTempPrefix) + tag + "-";
  std::error_code ec;
  const fs::file_status st = fs::symlink_status(output, ec);
  {
    TempTags& t = temp_tags();
    std::lock_guard<std::mutex> lock(t.m);
    t.tags[output] = {tag, fs::is_directory(st)};
  }
  std::vector<std::pair<fs::path, fs::file_status>> stale;
  auto consider = [&](const fs::directory_entry& e) {
    if (e.path().filename().string().rfind(prefix, 0) == 0) stale.emplace_back(e.path(), e.symlink_status(ec));
  };
  if (fs::is_directory(st)) {
    // Symbolic links are not followed: nothing outside the folder is touched.
    for (auto it = fs::recursive_directory_iterator(output, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      consider(*it);
      if (it->path().filename().string().rfind(kTempPrefix, 0) == 0) it.disable_recursion_pending();
    }
  } else {
    const fs::path parent = fs::path(output).parent_path();
    for (const auto& e : fs::directory_iterator(parent.empty() ? fs::path(".") : parent, ec)) consider(e);
  }
  for (const auto& [p, s] : stale) remove_stale(p, s);
}

void release_temporaries(const std::string& output) {
  TempTags& t = temp_tags();
  std::lock_guard<std::mutex> lock(t.m);
  t.tags.erase(output);
}

AtomicFile::AtomicFile(std::string path) : path_(std::move(path)) {
  // A fresh file: never an existing one, never through a symbolic link (O_EXCL, O_NOFOLLOW).
  for (int attempt = 0;; ++attempt) {
    tmp_ = temporary_name_beside(path_);
    const int fd = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd >= 0) {
      f_ = ::fdopen(fd, "wb");
      if (!f_) {
        const int err = errno;
        ::close(fd);
        ::unlink(tmp_.c_str());
        throw OutputError(tmp_, std::strerror(err));
      }
      return;
    }
    if (errno != EEXIST || attempt > 100) throw OutputError(tmp_, std::strerror(errno));
  }
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
  if (path_ == "-") {
    fd_ = STDOUT_FILENO;
    return;
  }
  // Never through a symbolic link (O_NOFOLLOW). A new file is created new (O_EXCL): a regular
  // file there (one the guard let this run replace) is unlinked first rather than truncated, so
  // another name of it (a hard link) keeps its content.
  constexpr int kFlags = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW;
  fd_ = ::open(path_.c_str(), kFlags | O_CREAT | (append ? 0 : O_EXCL), 0644);
  if (fd_ < 0 && !append && errno == EEXIST) {
    struct stat st {};
    if (::lstat(path_.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::unlink(path_.c_str()) == 0)
      fd_ = ::open(path_.c_str(), kFlags | O_CREAT | O_EXCL, 0644);
    else
      errno = ELOOP;  // a symbolic link or something else that is not a file: not replaced
  }
  if (fd_ < 0) {
    const int err = errno;
    struct stat st {};
    if (err == ELOOP || (::lstat(path_.c_str(), &st) == 0 && S_ISLNK(st.st_mode)))
      throw OutputError(path_, "is a symbolic link or not a regular file; sam2-amg does not write through it");
    throw OutputError(path_, std::strerror(err));
  }
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
