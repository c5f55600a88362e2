// libFuzzer driver for one entry point of fuzz_targets.h, chosen at compile time.
#include "fuzz_targets.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sam2amg::fuzz::SAM2AMG_FUZZ_TARGET(data, size);
  return 0;
}
