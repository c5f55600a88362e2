#pragma once
/// SHA-256 of a file, so every output can name the exact model it came from.
#include <string>

namespace sam2amg {

/// Lower-case hex SHA-256 of the file's bytes. Throws UsageError if it cannot be read.
std::string sha256_file(const std::string& path);

/// sha256_file, remembered per file: a large model is hashed once, not at every start of every
/// shard. The cache (`$SAM2AMG_CACHE_DIR`, else `$XDG_CACHE_HOME/sam2-amg`, else
/// `~/.cache/sam2-amg`) keys each entry by the file's absolute path and holds its size and
/// modification time; any change, or an unusable cache, means hashing the file again.
std::string sha256_file_cached(const std::string& path);

/// Lower-case hex SHA-256 of a byte string.
std::string sha256_hex(const std::string& data);

}  // namespace sam2amg
