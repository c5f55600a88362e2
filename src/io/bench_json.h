#pragma once
/// The files of `sam2-amg bench`: the reference's report (scripts/bench_reference.py --json)
/// read back, and the bench's own report written as JSON.
#include <cstdint>
#include <string>
#include <vector>

#include "amg/mask_record.h"
#include "common/stages.h"

namespace sam2amg {

/// Seconds per stage of one image (medians over the timed runs in a report): the model's stages
/// (common/stages.h) and the bench's own around them. `prepare` is the host's share of
/// preprocessing that a run does on its decode threads (MaskGenerator::prepare); `preprocess` the
/// rest, on the model's thread. On CUDA the model's stages come from events.
struct BenchStages : StageSeconds {
  double read = 0, prepare = 0, write = 0;
};

/// A stage of the bench's report: its JSON key, its heading and width in the printed table, its
/// field.
struct BenchStageName {
  const char* key;
  const char* heading;
  int width;
  double BenchStages::*seconds;
};

/// The report's stages in order: read, prepare, the model's stages (kStages), write.
std::vector<BenchStageName> bench_stages();

struct BenchImage {
  std::string path;
  int width = 0, height = 0;
  std::int64_t masks = 0;
  std::vector<double> seconds;  ///< per timed run: prepare and generate (what a run waits for; read and write overlap)
  BenchStages median;           ///< per stage, median over the runs
  std::int64_t host_reads = 0;     ///< device-to-host reads of one run (the loop's waits on CUDA)
  std::int64_t device_syncs = -1;  ///< CUDA's own count of synchronising calls in one run; -1 unknown
};

/// The summary both sides report.
struct BenchSummary {
  double p50_seconds = 0, p90_seconds = 0;  ///< per image, over every timed run
  double p50_encoder_seconds = 0;           ///< the image encoder's part of a run
  double images_per_second = 0;             ///< a pass over the folder
  std::int64_t peak_rss_bytes = 0;          ///< ru_maxrss of the process
  std::int64_t device_peak_bytes = -1;      ///< CUDA allocator peak; -1 when not on CUDA
  std::int64_t masks_total = 0;             ///< masks of one pass
};

/// What only sam2-amg's side reports: how often an image's loop waited for the device, how the
/// stages were timed, and which implementation ran each part.
struct BenchLoop {
  std::int64_t host_reads_per_image = 0;     ///< the most over the images
  std::int64_t device_syncs_per_image = -1;  ///< the most over the images; -1 unknown (not CUDA)
  std::string stage_clock = "wall clock";    ///< or "cuda events"
  /// (part, implementation): preprocess, postprocess, postprocess_kernel, decoder, decoder_graph;
  /// "unknown" where the part cannot say.
  std::vector<std::pair<std::string, std::string>> paths;
};

/// What scripts/bench_reference.py measured, from its --json file.
struct ReferenceBench {
  BenchSummary summary;
  std::string torch_version, device;
  int threads = 0;
  std::string blas;  ///< the BLAS libraries mapped into the Python process
};

/// Reads a bench_reference.py report. Throws UsageError naming the file and the missing key.
ReferenceBench read_reference_bench(const std::string& path);

struct BenchReport {
  std::vector<std::pair<std::string, std::string>> setup;  ///< printed and written in this order
  std::vector<BenchImage> images;
  BenchSummary summary;
  BenchLoop loop;
  FilterFunnel funnel;
  bool has_reference = false;
  ReferenceBench reference;
};

/// Writes the report as JSON, atomically. Throws OutputError.
void write_bench_json(const std::string& path, const BenchReport& report);

/// Nearest-rank percentile (q in [0, 100]) of `values`; 0 when empty. The same rule as
/// bench_reference.py, so both sides' p50/p90 mean the same thing.
double percentile(std::vector<double> values, double q);

}  // namespace sam2amg
