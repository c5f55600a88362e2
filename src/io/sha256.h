#pragma once
/// SHA-256 of a file, so every output can name the exact model it came from.
#include <string>

namespace sam2amg {

/// Lower-case hex SHA-256 of the file's bytes. Throws UsageError if it cannot be read.
std::string sha256_file(const std::string& path);

/// Lower-case hex SHA-256 of a byte string.
std::string sha256_hex(const std::string& data);

}  // namespace sam2amg
