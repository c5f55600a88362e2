// --device cuda through the binary: exit 3 (the README's exit-code table) with the reason, and
// the runtime in --version and in the provenance of the outputs.
#include <nlohmann/json.hpp>

#include <fstream>
#include <regex>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// The CLI fixture at 4 points per side with one small image.
struct CudaRun : CliFixture {
  CudaRun() {
    points_per_side = 4;
    add_image("a.png", make_image(32, 24, kBlack, {{4, 4, 20, 16, kRed}}));
  }
};

}  // namespace

TEST_CASE("A run with --device cuda where it cannot run exits 3 and says why", "[cli][cuda]") {
  CudaRun f;
  const std::string version = f.run_binary("--version").out;
  for (const std::string device : {"cuda", "cuda:7"}) {
    INFO(device);
    f.device = device;
    const CliResult r = f.run("--input " + f.images + "/a.png --out " + f.file("m.json"));
#if SAM2AMG_TORCH_HAS_CUDA
    // A CUDA build: which reason depends on the machine; cuda:7 fails on any with fewer GPUs.
    if (has(version, "no NVIDIA driver")) {
      CHECK(r.rc == 3);
      CHECK(has(r.err, "--device " + device + ": no NVIDIA driver is loaded"));
    } else if (has(version, " 0 GPUs")) {
      CHECK(r.rc == 3);
      CHECK(has(r.err, "--device " + device + ": the NVIDIA driver"));
    } else if (device == "cuda:7" && !std::regex_search(version, std::regex(R"(, ([89]|\d\d+) GPUs)"))) {
      CHECK(r.rc == 3);
      CHECK(has(r.err, "--device cuda:7: there is no GPU 7: this machine has "));
    }
#else
    CHECK(r.rc == 3);
    CHECK(has(r.err, "--device " + device + ": this sam2-amg is built against a CPU-only LibTorch ("));
    CHECK(has(r.err, "scripts/setup-cuda.sh"));
    CHECK_FALSE(std::ifstream(f.file("m.json")).good());  // refused before any output
#endif
  }
}

TEST_CASE("The version line and the outputs' provenance name LibTorch, its CUDA and the driver", "[cli][cuda]") {
  CudaRun f;
  const std::string version = f.run_binary("--version").out;
  std::smatch m;
  REQUIRE(std::regex_search(
      version, m,
      std::regex(R"(\nLibTorch ([^ ,]+), (CPU only \(no CUDA in this LibTorch\)|CUDA \d+\.\d+, [^,]+, \d+ GPUs?), )")));
  const std::string libtorch = m[1].str(), cuda = m[2].str();
#if SAM2AMG_TORCH_HAS_CUDA
  CHECK(cuda.rfind("CUDA ", 0) == 0);
#else
  CHECK(cuda == "CPU only (no CUDA in this LibTorch)");
#endif

  const CliResult r = f.run("--input " + f.images + "/a.png --out " + f.file("m.json") + " -v");
  REQUIRE(r.rc == 0);
  CHECK(has(r.err, "runtime: LibTorch " + libtorch + ", " + cuda + ", "));
  const nlohmann::json coco = nlohmann::json::parse(slurp(f.file("m.json")));
  const nlohmann::json& rt = coco.at("info").at("sam2_amg").at("runtime");
  CHECK(rt.at("libtorch") == libtorch);
#if SAM2AMG_TORCH_HAS_CUDA
  CHECK(rt.at("cuda").is_string());
#else
  CHECK(rt.at("cuda").is_null());
#endif
  CHECK((rt.at("nvidia_driver").is_null() || has(version, "NVIDIA driver " + rt.at("nvidia_driver").get<std::string>())));
}
