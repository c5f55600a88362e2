#pragma once
/// Reading a whole file with its size checked before any byte is read (internal to io/): only
/// regular files (a FIFO or a device would block or never end), and only up to a cap, so a huge
/// or endless file costs nothing. The one way io/ reads config, grid and image files.
#include <cstdint>
#include <string>
#include <vector>

namespace sam2amg {

/// Reads `path` into `bytes`. Returns "" on success, else why not ("not a regular file (a FIFO)",
/// "2.0 GiB is above the 16.0 MiB limit", "cannot open: ..."), for the caller's error message.
std::string read_bounded_file(const std::string& path, std::uint64_t cap, std::vector<std::uint8_t>& bytes);

/// A size for messages: "512 B", "16.0 MiB", "3.2 GiB".
std::string human_size(std::uint64_t bytes);

/// The cap of config and point-grid files.
inline constexpr std::uint64_t kMaxConfigFileBytes = std::uint64_t{16} << 20;

}  // namespace sam2amg
