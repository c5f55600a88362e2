// The CPU side of the runtime (model/runtime.h): how many CPUs this process may use, LibTorch's
// and the BLAS's thread pools, and the CPU's reduced-precision matrix instructions.
#include <ATen/Parallel.h>
#include <dlfcn.h>
#include <sched.h>
#include <strings.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>

#include "model/runtime.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

namespace sam2amg {

namespace {

std::string first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  if (in) std::getline(in, line);
  return line;
}

// ceil(quota / period) CPUs, or 0 when there is no quota (or it cannot be read).
int quota_cpus(double quota, double period) {
  if (!(quota > 0) || !(period > 0)) return 0;
  return std::max(1, static_cast<int>(std::ceil(quota / period - 1e-9)));
}

}  // namespace

int cpus_within_quota(int affinity, const std::string& cpu_max_v2, const std::string& quota_v1,
                      const std::string& period_v1) {
  int cpus = std::max(1, affinity);
  int quota = 0;
  std::istringstream v2(cpu_max_v2);
  std::string q;
  double period = 0;
  if (v2 >> q >> period && q != "max") {
    try {
      quota = quota_cpus(std::stod(q), period);
    } catch (const std::exception&) {
      quota = 0;
    }
  } else if (!quota_v1.empty() && !period_v1.empty()) {
    try {
      quota = quota_cpus(std::stod(quota_v1), std::stod(period_v1));
    } catch (const std::exception&) {
      quota = 0;
    }
  }
  if (quota > 0) cpus = std::min(cpus, quota);
  return cpus;
}

int usable_cpu_count() {
  int affinity = 0;
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) == 0) affinity = CPU_COUNT(&set);
  // The process's own cgroup (v2: one line "0::/path"); containers usually see theirs at the root.
  std::string group;
  {
    std::ifstream in("/proc/self/cgroup");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("0::", 0) == 0) group = line.substr(3);
  }
  std::string v2 = first_line("/sys/fs/cgroup" + group + "/cpu.max");
  if (v2.empty()) v2 = first_line("/sys/fs/cgroup/cpu.max");
  return cpus_within_quota(affinity, v2, first_line("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"),
                           first_line("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
}

void set_cpu_threads(int n) {
  if (n <= 0) return;
  at::set_num_threads(n);
  // OpenBLAS runs its own pool, sized by the machine's CPU count unless told.
  using SetThreads = void (*)(int);
  if (auto* set = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) set(n);
}

void restart_with_passive_thread_pools(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") || std::getenv("OPENBLAS_THREAD_TIMEOUT")) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
  setenv("OPENBLAS_THREAD_TIMEOUT", "4", 0);  // 2^4 cycles of spinning before a thread sleeps
  execv("/proc/self/exe", argv);  // returns only if it failed
  // The run goes on with the pools as they loaded: the runtime line must not say "passive".
  unsetenv("OMP_WAIT_POLICY");
  unsetenv("OPENBLAS_THREAD_TIMEOUT");
}

std::string thread_pool_wait() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  return policy && strcasecmp(policy, "passive") == 0 ? "passive" : "spinning";  // as libgomp reads it
}

std::string CpuMatrixFeatures::str() const {
  std::string s = std::string(avx512_bf16 ? "avx512_bf16" : "") + (avx512_bf16 && amx_bf16 ? " " : "") +
                  (amx_bf16 ? "amx_bf16" : "");
  return s.empty() ? "none" : s;
}

CpuMatrixFeatures cpu_matrix_features() {
  CpuMatrixFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return f;  // OSXSAVE: XCR0 readable
  unsigned xcr0_lo = 0, xcr0_hi = 0;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool avx512_state = (xcr0_lo & 0xe6u) == 0xe6u;                       // SSE, AVX, opmask, ZMM
  const bool amx_state = (xcr0_lo & (3u << 17)) == (3u << 17);                 // XTILECFG, XTILEDATA
  if (__get_cpuid_max(0, nullptr) < 7) return f;
  __cpuid_count(7, 0, a, b, c, d);
  const bool avx512f = b & (1u << 16);
  const bool amx = (d & (1u << 22)) && (d & (1u << 24));  // AMX-BF16, AMX-TILE
  unsigned a1 = 0, b1 = 0, c1 = 0, d1 = 0;
  __cpuid_count(7, 1, a1, b1, c1, d1);
  f.avx512_bf16 = avx512_state && avx512f && (a1 & (1u << 5));
  f.amx_bf16 = amx_state && amx;
#endif
  return f;
}

}  // namespace sam2amg
