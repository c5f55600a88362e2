#include "model/torch_errors.h"

#include <new>

#include "common/error.h"

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

namespace {

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

}  // namespace

void rethrow_as_typed_error() {
  try {
    throw;
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc& e) {
    throw ImageError(std::string("not enough memory for this image (") + e.what() +
                     "); lower --points-per-batch or downscale it");
  } catch (const std::exception& e) {
    const std::string what = e.what();
    if (contains(what, "can't allocate memory") || contains(what, "DefaultCPUAllocator") ||
        contains(what, "std::bad_alloc"))
      throw ImageError("not enough memory for this image (" + error_line(what) +
                       "); lower --points-per-batch or downscale it");
    if (contains(what, "CUDA") || contains(what, "cuda") || contains(what, "cuDNN") || contains(what, "CUBLAS") ||
        is_out_of_memory(what))
      throw DeviceError("device failure: " + error_line(what) + "; retry with --resume");
    throw;
  }
}

}  // namespace sam2amg
