// An image that cannot fit in memory is found before any allocation.
#include "common/error.h"
#include "pipeline/memory_check.h"
#include "support/catch.h"

using namespace sam2amg;

TEST_CASE("The memory an image needs is estimated, and too much is a per-image error", "[pipeline][memory]") {
  constexpr double kGiB = double(1 << 30);
  // The case: 12000 x 12000, reference post-processing, 64 prompts x 3 masks per batch:
  // about 110 GB of float32 masks (plus their thresholded copy).
  const std::int64_t reference = image_memory_estimate(12000, 12000, 64, 3, true);
  CHECK(reference / kGiB > 128.0);
  CHECK(reference / kGiB < 132.0);
  // Fused post-processing never upsamples a batch: the image and its float copy.
  CHECK(image_memory_estimate(12000, 12000, 64, 3, false) == std::int64_t{12000} * 12000 * 15);
  // One mask per prompt (single-mask output or m2m) needs a third of the batch's masks.
  CHECK(image_memory_estimate(100, 100, 64, 1, true) == 100 * 100 * (15 + 64 * 5));

  CHECK_NOTHROW(check_image_memory(10, 10));
  CHECK_NOTHROW(check_image_memory(10, 0));  // unknown limit: no check
  try {
    check_image_memory(reference, std::int64_t{16} << 30);
    FAIL("expected an ImageError");
  } catch (const ImageError& e) {
    CHECK(e.exit_code() == 4);
    CHECK(std::string(e.what()).find("more than this machine's 16.0 GiB") != std::string::npos);
  }
  CHECK(physical_memory_bytes() > (std::int64_t{64} << 20));
}
