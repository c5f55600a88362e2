#include "io/input_identity.h"

#include <sys/stat.h>

#include <cctype>
#include <cstdio>
#include <filesystem>

namespace sam2amg {

using nlohmann::json;

std::string escape_bytes(const std::string& bytes) {
  std::string out;
  char buf[4];
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && c != '%') {
      out += ch;
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

namespace {

std::string unescape_bytes(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string canonical_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path c = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

// Size and modification time (ns) of a file now; false when it cannot be read.
bool content_stamp(const std::string& path, std::int64_t& size, std::int64_t& mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  size = st.st_size;
  mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

// True when the input a record names was rewritten since: its size or mtime differ now. A file
// that is gone, or a record without them, is not (its results are kept).
bool content_changed(const json& identity) {
  if (!identity.is_object() || !identity.contains("path_bytes") || !identity.contains("size") ||
      !identity.contains("mtime_ns"))
    return false;
  std::int64_t size = 0, mtime = 0;
  if (!content_stamp(unescape_bytes(identity.value("path_bytes", std::string())), size, mtime)) return false;
  return identity["size"] != size || identity["mtime_ns"] != mtime;
}

}  // namespace

std::string input_key(const InputFile& input) {
  return escape_bytes(input.key.empty() ? canonical_path(input.path) : input.key);
}

json input_identity_json(const InputFile& input) {
  json j{{"key", input_key(input)}, {"path_bytes", escape_bytes(input.path)}};
  std::int64_t size = 0, mtime = 0;
  if (content_stamp(input.path, size, mtime)) {
    j["size"] = size;
    j["mtime_ns"] = mtime;
  }
  return j;
}

std::string recorded_input_key(const json& identity, const std::string& recorded_path) {
  if (identity.is_object() && identity.contains("key") && identity["key"].is_string()) return identity["key"];
  return escape_bytes(canonical_path(recorded_path));
}

InputMatch match_input(const json& identity, const std::string& recorded_path, const InputFile& input) {
  if (recorded_input_key(identity, recorded_path) != input_key(input)) return InputMatch::kOther;
  return content_changed(identity) ? InputMatch::kChanged : InputMatch::kSame;
}

bool recorded_input_changed(const json& identity) { return content_changed(identity); }

std::string recorded_input_path(const json& identity, const std::string& recorded_path) {
  if (identity.is_object() && identity.contains("path_bytes") && identity["path_bytes"].is_string())
    return unescape_bytes(identity["path_bytes"].get<std::string>());
  return recorded_path;
}

}  // namespace sam2amg
