// --device cuda where it cannot run says which of the three it is: a CPU-only LibTorch, no
// NVIDIA driver, no GPU N. The runtime that --version and the provenance report.
#include <torch/version.h>

#include <regex>

#include "model/runtime.h"
#include "support/catch.h"

using namespace sam2amg;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

CudaRuntime cuda_machine(int devices, const std::string& driver = "580.159.04") {
  CudaRuntime rt;
  rt.libtorch = "2.11.0";
  rt.libtorch_cuda = true;
  rt.cuda = "13.0";
  rt.driver = driver;
  rt.devices = devices;
  return rt;
}

}  // namespace

TEST_CASE("A CPU-only LibTorch build is named as the reason, whatever the machine has", "[model][cuda]") {
  CudaRuntime rt;
  rt.libtorch = "1.13.1";
  rt.driver = "580.159.04";  // a driver does not help a CPU-only build
  const std::string why = cuda_unavailable_reason(rt, "cuda", 0, nullptr);
  CHECK(has(why, "--device cuda: this sam2-amg is built against a CPU-only LibTorch (1.13.1)"));
  CHECK(has(why, "scripts/setup-cuda.sh"));
  CHECK(has(cuda_unavailable_reason(rt, "cuda:1", 1, nullptr), "--device cuda:1: this sam2-amg is built against"));
  CHECK(cuda_summary(rt) == "CPU only (no CUDA in this LibTorch)");
}

TEST_CASE("A CUDA build without a driver, or whose driver shows no GPU, says so", "[model][cuda]") {
  const std::string none = cuda_unavailable_reason(cuda_machine(0, ""), "cuda", 0, nullptr);
  CHECK(has(none, "--device cuda: no NVIDIA driver is loaded on this machine (LibTorch 2.11.0 with CUDA 13.0"));
  const std::string hidden = cuda_unavailable_reason(cuda_machine(0), "cuda", 0, "");
  CHECK(has(hidden, "the NVIDIA driver 580.159.04 is loaded but CUDA finds no GPU (CUDA_VISIBLE_DEVICES=''"));
  CHECK_FALSE(has(cuda_unavailable_reason(cuda_machine(0), "cuda", 0, nullptr), "CUDA_VISIBLE_DEVICES"));
  CHECK(cuda_summary(cuda_machine(0, "")) == "CUDA 13.0, no NVIDIA driver, 0 GPUs");
}

TEST_CASE("A GPU index past the last one names how many there are", "[model][cuda]") {
  CHECK(cuda_unavailable_reason(cuda_machine(1), "cuda", 0, nullptr).empty());
  CHECK(cuda_unavailable_reason(cuda_machine(2), "cuda:1", 1, nullptr).empty());
  CHECK(cuda_unavailable_reason(cuda_machine(1), "cuda:1", 1, nullptr) ==
        "--device cuda:1: there is no GPU 1: this machine has 1 GPU (cuda:0)");
  CHECK(cuda_unavailable_reason(cuda_machine(2), "cuda:5", 5, "0,1") ==
        "--device cuda:5: there is no GPU 5: this machine has 2 GPUs (cuda:0 to cuda:1), CUDA_VISIBLE_DEVICES='0,1'");
  CHECK(cuda_summary(cuda_machine(2)) == "CUDA 13.0, NVIDIA driver 580.159.04, 2 GPUs");
}

TEST_CASE("This process's runtime: the linked LibTorch, and no GPU without its CUDA", "[model][cuda]") {
  const CudaRuntime rt = cuda_runtime();
  CHECK(rt.libtorch == TORCH_VERSION);
  CHECK(rt.libtorch_cuda == (SAM2AMG_TORCH_HAS_CUDA != 0));  // what CMake found LibTorch to be
  if (!rt.libtorch_cuda) {
    CHECK(rt.cuda.empty());
    CHECK(rt.devices == 0);
    CHECK(has(cuda_unavailable_reason(rt, "cuda", 0, nullptr), "CPU-only LibTorch (" TORCH_VERSION ")"));
  } else {
    CHECK(std::regex_search(rt.cuda, std::regex(R"(^\d+\.\d+$)")));
  }
}
