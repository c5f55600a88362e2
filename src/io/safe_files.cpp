#include "io/safe_files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <set>

#include "common/error.h"
#include "io/json_files.h"

namespace sam2amg {

namespace {

std::string escape_component(const std::string& c) {
  if (c == ".") return "%2E";
  if (c == "..") return "%2E%2E";
  std::string out;
  for (const char ch : c) {
    const auto u = static_cast<unsigned char>(ch);
    if (u < 0x20 || u == 0x7F || ch == '\\') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", u);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace

std::string safe_relative_name(const std::string& name) {
  std::string out;
  size_t start = 0;
  while (start <= name.size()) {
    size_t end = name.find('/', start);
    if (end == std::string::npos) end = name.size();
    const std::string c = name.substr(start, end - start);
    if (!c.empty()) out += (out.empty() ? "" : "/") + escape_component(c);
    start = end + 1;
  }
  return out.empty() ? "%2E" : out;
}

std::map<std::string, std::string> output_stems(const std::vector<InputFile>& inputs) {
  // The stem of "...png" is "..", which must never name the output folder's parent: every stem
  // goes through safe_relative_name.
  std::map<std::string, int> count;
  auto stem_of = [](const std::string& name) {
    const std::filesystem::path p(name);
    return safe_relative_name((p.parent_path() / p.stem()).generic_string());
  };
  for (const InputFile& in : inputs) ++count[stem_of(in.name)];
  std::map<std::string, std::string> stems;
  std::set<std::string> used;
  for (const InputFile& in : inputs) {
    const std::string s = stem_of(in.name);
    const std::string base = count[s] > 1 ? safe_relative_name(in.name) : s;
    std::string stem = base;
    // The same name from two folder inputs: number the later ones (input order is sorted).
    for (int k = 2; !used.insert(stem).second; ++k) stem = base + "~" + std::to_string(k);
    stems[in.path] = stem;
  }
  return stems;
}

std::string path_inside(const std::string& dir, const std::string& relative) {
  bool ok = !relative.empty() && relative[0] != '/';
  size_t start = 0;
  while (ok && start <= relative.size()) {
    size_t end = relative.find('/', start);
    if (end == std::string::npos) end = relative.size();
    const std::string c = relative.substr(start, end - start);
    ok = !c.empty() && c != "." && c != "..";
    start = end + 1;
  }
  if (!ok) throw OutputError(dir + "/" + relative, "refusing a name that would leave the output folder");
  return dir + "/" + relative;
}

void make_folders_inside(const std::string& root, const std::string& folder) {
  // Output paths are `root` + "/" + a safe relative name (path_inside): the part after root.
  if (folder.compare(0, root.size(), root) != 0)
    throw OutputError(folder, "is not inside the output folder '" + printable(root) + "'");
  const std::filesystem::path rel(folder.substr(root.size()));
  std::filesystem::path at = root;
  for (const auto& part : rel) {
    if (part.empty() || part == "/" || part == ".") continue;
    if (part == "..") throw OutputError(folder, "refusing a name that would leave the output folder");
    at /= part;
    struct stat st {};
    if (::lstat(at.c_str(), &st) != 0) {
      if (errno != ENOENT) throw OutputError(at.string(), std::strerror(errno));
      if (::mkdir(at.c_str(), 0755) != 0 && errno != EEXIST) throw OutputError(at.string(), std::strerror(errno));
      if (::lstat(at.c_str(), &st) != 0) throw OutputError(at.string(), std::strerror(errno));
    }
    if (S_ISLNK(st.st_mode))
      throw OutputError(at.string(), "is a symbolic link inside the output folder: refusing to write through it "
                                     "(move it away)");
    if (!S_ISDIR(st.st_mode)) throw OutputError(at.string(), "exists and is not a folder; move it away");
  }
}

bool blocked_inside(const std::string& root, const std::string& path) {
  std::error_code ec;
  const std::filesystem::path relative = std::filesystem::path(path).lexically_relative(root);
  std::filesystem::path at = root;
  for (auto it = relative.begin(); it != relative.end() && std::next(it) != relative.end(); ++it) {
    at /= *it;
    const std::filesystem::file_status st = std::filesystem::symlink_status(at, ec);
    if (std::filesystem::exists(st) && (std::filesystem::is_symlink(st) || !std::filesystem::is_directory(st)))
      return true;
  }
  return false;
}

OutputLock::OutputLock(std::string lock_path, const std::string& output) : path_(std::move(lock_path)) {
  // Lock, then check the file is still the one at the path: a run that released its lock
  // removes the file, and a lock on the removed file would protect nothing.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) throw OutputError(path_, std::string("cannot create the lock file: ") + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      ::close(fd_);
      fd_ = -1;
      if (err == EWOULDBLOCK)
        throw UsageError("another sam2-amg run is writing '" + printable(output) + "' (it holds " + printable(path_) +
                         "); wait for it to finish, or choose another output");
      throw OutputError(path_, std::string("cannot lock: ") + std::strerror(err));
    }
    struct stat held {}, now {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &now) == 0 && held.st_ino == now.st_ino &&
        held.st_dev == now.st_dev) {
      output_ = output;
      claim_temporaries(output_, path_);  // what a killed holder of this lock left goes
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  throw OutputError(path_, "cannot lock: the lock file keeps being replaced");
}

OutputLock::OutputLock(OutputLock&& other) noexcept
    : path_(std::move(other.path_)), output_(std::move(other.output_)), fd_(other.fd_) {
  other.fd_ = -1;
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  release_temporaries(output_);
  ::unlink(path_.c_str());  // while still locked: the next run creates a fresh one
  ::close(fd_);
}

}  // namespace sam2amg
