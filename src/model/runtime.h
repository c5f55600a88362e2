#pragma once
/// The LibTorch runtime behind a torch-free header: the CLI (which sees no LibTorch header)
/// reports it in --version and the provenance, the model and pipeline in their logs.
#include <cstdint>
#include <string>

namespace sam2amg {

/// LibTorch's version, its CPU threads, its CUDA (or "CPU only") and the NVIDIA driver, and the
/// BLAS libraries mapped into this process (the one LibTorch really calls: Debian's libblas.so.3
/// is the reference BLAS unless OpenBLAS is installed as its alternative). For logs, the bench
/// and --version.
std::string runtime_description();

/// The CPUs this process may run on: its affinity mask, capped by a cgroup CPU quota (v2
/// cpu.max, or v1 cpu.cfs_quota_us / cpu.cfs_period_us; a quota of 1.5 CPUs gives 2). At least 1.
int usable_cpu_count();

/// The count for `affinity` CPUs and a cgroup quota, as the files say it: v2's cpu.max text
/// ("max 100000" or "150000 100000"), or v1's quota and period (quota -1: none). Empty or
/// unreadable text means no quota. For usable_cpu_count and its tests.
int cpus_within_quota(int affinity, const std::string& cpu_max_v2, const std::string& quota_v1,
                      const std::string& period_v1);

/// Sets LibTorch's intra-op threads and, where the BLAS is OpenBLAS (which keeps its own pool),
/// OpenBLAS's to `n`.
void set_cpu_threads(int n);

/// LibTorch's OpenMP threads and OpenBLAS's own threads share the cores, and by default each
/// pool keeps spinning for a while after its work, while the other pool's work waits for a core
/// (on 2 cores a SAM 2.1-t run at 16x16 took twice as long as with passive pools,
/// docs/performance.md).
/// Both read how to wait from the environment when their libraries load, before main, so this
/// sets OMP_WAIT_POLICY=PASSIVE and OPENBLAS_THREAD_TIMEOUT=4 and starts the process again with
/// `argv`, once; it does nothing when the user set either variable (or when the restart is not
/// possible: then the run goes on as it is). Call it before the run has any effect.
void restart_with_passive_thread_pools(char** argv);

/// How the thread pools wait, for the runtime line: "passive" or "spinning" (OMP_WAIT_POLICY).
std::string thread_pool_wait();

/// The CPU's reduced-precision matrix instructions, read with CPUID and checked against what the
/// OS enables (XCR0): AVX-512 BF16 (Zen 4, Cooper Lake, Sapphire Rapids) and AMX-BF16
/// (Sapphire Rapids and later).
struct CpuMatrixFeatures {
  bool avx512_bf16 = false;
  bool amx_bf16 = false;
  /// "avx512_bf16 amx_bf16", "avx512_bf16" or "none".
  std::string str() const;
};
CpuMatrixFeatures cpu_matrix_features();

/// What LibTorch and this machine offer for CUDA.
struct CudaRuntime {
  std::string libtorch;        ///< LibTorch's version, "2.11.0"
  bool libtorch_cuda = false;  ///< LibTorch was built with CUDA (its CUDA library is loaded)
  std::string cuda;            ///< the CUDA runtime that LibTorch was built with, "13.0"; empty without
  std::string driver;          ///< the loaded NVIDIA kernel driver, "580.159.04"; empty when none is
  int devices = 0;             ///< the GPUs CUDA sees (0 on a CPU-only LibTorch)
};

/// This process's: LibTorch, its CUDA, the driver (/proc/driver/nvidia/version) and the GPUs.
CudaRuntime cuda_runtime();

/// The CUDA part of runtime_description: "CUDA 13.0, NVIDIA driver 580.159.04, 1 GPU" or
/// "CPU only (no CUDA in this LibTorch)".
std::string cuda_summary(const CudaRuntime& rt);

/// Why `--device <requested>` (cuda:`index`; -1: any GPU) cannot run here, as the message of the
/// error; empty when it can. Says which: a CPU-only LibTorch build, no NVIDIA driver, a driver
/// with no GPU visible (`visible_devices`: $CUDA_VISIBLE_DEVICES, null when unset), or no GPU N.
std::string cuda_unavailable_reason(const CudaRuntime& rt, const std::string& requested, int index,
                                    const char* visible_devices);

/// Which decoder path Sam2Model::predict_points takes (Sam2Model::decoder_path()), for the bench
/// and logs.
struct DecoderPath {
  bool native = false;              ///< sam2-amg's own decoder (src/model/native_decoder.h) decodes
  std::string native_precision;     ///< its matrix products' precision: "float32" or "bf16"
  std::string not_native;           ///< with --decoder auto: why the native decoder does not run
  bool fast = false;                ///< the export's decoder form is fast (metadata `decoder`)
  bool cuda_graph = false;          ///< the last fast call replayed a CUDA graph
  std::int64_t max_batch = 0;       ///< prompts per fast decoder call at most; 0 for the exact form
  std::int64_t calls = 0;           ///< fast decoder calls so far
  std::int64_t graph_replays = 0;   ///< of which CUDA graph replays
  std::string note;                 ///< why fast calls are plain calls (CPU, no CUDA graphs, capture failed)
  /// "native (float32)", "exact", "fast, CUDA graph" or "fast, eager (note)".
  std::string str() const;
};

}  // namespace sam2amg
