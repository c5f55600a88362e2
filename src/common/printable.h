#pragma once
/// Names as they may be logged or printed. A file name can hold any byte but '/' and NUL: a
/// newline in it would forge a log line, an escape sequence would drive the terminal.
#include <cstdio>
#include <string>

namespace sam2amg {

/// `name` with control characters escaped C-style (\n, \r, \t, else \xHH; C1 controls, which
/// are two bytes in UTF-8, as \xC2\xHH) and backslashes doubled, so the result is one line that
/// maps back to one name. Everything else (UTF-8 text included) is kept. Every name that reaches
/// a log line or an error message goes through this.
inline std::string printable(const std::string& name) {
  std::string out;
  out.reserve(name.size());
  auto hex = [&out](unsigned char c) {
    char buf[5];
    std::snprintf(buf, sizeof buf, "\\x%02X", c);
    out += buf;
  };
  for (size_t i = 0; i < name.size(); ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      hex(c);
    } else if (c == 0xC2 && i + 1 < name.size() && static_cast<unsigned char>(name[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(name[i + 1]) <= 0x9F) {
      hex(c);
      hex(static_cast<unsigned char>(name[++i]));
    } else {
      out += name[i];
    }
  }
  return out;
}

}  // namespace sam2amg
