#include "io/bounded_read.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace sam2amg {

namespace {

const char* kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a folder";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

std::string human_size(std::uint64_t b) {
  char buf[32];
  if (b < 1024) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(b));
  else if (b < (std::uint64_t{1} << 30)) std::snprintf(buf, sizeof buf, "%.1f MiB", double(b) / (1 << 20));
  else std::snprintf(buf, sizeof buf, "%.1f GiB", double(b) / (1 << 30));
  return buf;
}

std::string read_bounded_file(const std::string& path, std::uint64_t cap, std::vector<std::uint8_t>& bytes) {
  bytes.clear();
  // O_NONBLOCK: opening a FIFO without a writer would block; the file type is checked first.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::string("cannot open: ") + std::strerror(errno);
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return std::string("cannot read: ") + std::strerror(err);
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return std::string("not a regular file (") + kind_of(st.st_mode) + ")";
  }
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size > cap) {
    ::close(fd);
    return human_size(size) + " is above the limit of " + human_size(cap);
  }
  bytes.resize(size);
  std::uint64_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, bytes.data() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      bytes.clear();
      return std::string("cannot read: ") + std::strerror(err);
    }
    if (n == 0) break;  // shrank meanwhile: what is there
    done += static_cast<std::uint64_t>(n);
  }
  bytes.resize(done);  // a file that grew meanwhile is read up to its size at open
  ::close(fd);
  return "";
}

}  // namespace sam2amg
