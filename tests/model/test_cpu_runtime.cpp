// The CPU side of the runtime: the thread count a process may use (affinity within a cgroup
// quota), the thread pools it sets, and the matrix instructions read from CPUID.
#include <ATen/Parallel.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "model/runtime.h"
#include "support/catch.h"

using namespace sam2amg;

TEST_CASE("The CPU count is the affinity, within a cgroup quota rounded up", "[model][threads]") {
  CHECK(cpus_within_quota(4, "", "", "") == 4);                  // no cgroup files
  CHECK(cpus_within_quota(4, "max 100000", "", "") == 4);        // v2, no quota
  CHECK(cpus_within_quota(4, "150000 100000", "", "") == 2);     // 1.5 CPUs: both are used
  CHECK(cpus_within_quota(4, "200000 100000", "", "") == 2);
  CHECK(cpus_within_quota(1, "800000 100000", "", "") == 1);     // the affinity is the bound
  CHECK(cpus_within_quota(8, "50000 100000", "", "") == 1);      // half a CPU is still one
  CHECK(cpus_within_quota(8, "", "-1", "100000") == 8);          // v1, no quota
  CHECK(cpus_within_quota(8, "", "300000", "100000") == 3);      // v1 quota
  CHECK(cpus_within_quota(8, "garbage", "", "") == 8);
  CHECK(cpus_within_quota(0, "", "", "") == 1);                  // never below one
  const int usable = usable_cpu_count();
  CHECK(usable >= 1);
  CHECK(usable <= static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
}

TEST_CASE("set_cpu_threads sets LibTorch's pool", "[model][threads]") {
  const int before = at::get_num_threads();
  set_cpu_threads(1);
  CHECK(at::get_num_threads() == 1);
  set_cpu_threads(0);  // no count: nothing changes
  CHECK(at::get_num_threads() == 1);
  set_cpu_threads(before);
  CHECK(at::get_num_threads() == before);
}

TEST_CASE("The CPU's bf16 matrix instructions are those the kernel reports", "[model][threads]") {
  // /proc/cpuinfo's flags are the kernel's reading of the same CPUID bits (and of what it enables).
  std::ifstream in("/proc/cpuinfo");
  std::string line, flags;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      flags = " " + line.substr(line.find(':') + 1) + " ";
      break;
    }
  const CpuMatrixFeatures f = cpu_matrix_features();
  if (!flags.empty()) {  // x86 Linux
    CHECK(f.avx512_bf16 == (flags.find(" avx512_bf16 ") != std::string::npos));
    CHECK(f.amx_bf16 == (flags.find(" amx_bf16 ") != std::string::npos));
  }
  const std::string s = f.str();
  CHECK(s == (f.avx512_bf16 ? (f.amx_bf16 ? "avx512_bf16 amx_bf16" : "avx512_bf16") : (f.amx_bf16 ? "amx_bf16" : "none")));
}
