#include "model/torch_errors.h"

namespace sam2amg {

bool is_out_of_memory(const std::string& what) {
  return what.find("out of memory") != std::string::npos || what.find("not enough memory") != std::string::npos;
}

std::string error_line(const std::string& what) {
  const char* blank = " \t\r\n";
  if (what.rfind("The following operation failed in the TorchScript interpreter", 0) == 0) {
    const size_t end = what.find_last_not_of(blank);
    const size_t start = what.rfind('\n', end);
    const size_t from = start == std::string::npos ? 0 : start + 1;
    return what.substr(from, end - from + 1);
  }
  const size_t begin = what.find_first_not_of(blank);
  if (begin == std::string::npos) return "";
  const size_t end = what.find('\n', begin);
  return what.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

}  // namespace sam2amg
