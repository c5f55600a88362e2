#include "pipeline/memory_check.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "common/error.h"

namespace sam2amg {

std::int64_t image_memory_estimate(int width, int height, std::int64_t batch, int masks_per_prompt,
                                   bool reference_postprocess) {
  const std::int64_t pixels = std::int64_t{width} * height;
  std::int64_t bytes = pixels * (3 + 3 * 4);  // the RGB image and its float32 copy
  if (reference_postprocess) bytes += batch * masks_per_prompt * pixels * (4 + 1);  // float masks, then bool
  return bytes;
}

std::int64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? std::int64_t{pages} * page : 0;
}

void check_image_memory(std::int64_t needed, std::int64_t limit) {
  if (limit <= 0 || needed <= limit) return;
  char msg[256];
  std::snprintf(msg, sizeof msg,
                "needs about %.1f GiB of memory, more than this machine's %.1f GiB; lower --points-per-batch, use "
                "--postprocess fused, or downscale the image",
                double(needed) / (1 << 30), double(limit) / (1 << 30));
  throw ImageError(msg);
}

}  // namespace sam2amg
