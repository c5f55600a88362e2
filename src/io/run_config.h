#pragma once
/// RunConfig: everything a run needs, AMG parameters plus I/O options. Defaults come from the
/// structs; a YAML file (--config) and then the command line's explicit flags fill it.
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "amg/amg_config.h"
#include "common/device.h"
#include "common/enum_names.h"

namespace sam2amg {

/// Whether JPEGs are turned upright by their EXIF orientation tag before segmentation.
enum class ExifMode {
  kApply,
  kIgnore,
};

constexpr EnumNames<ExifMode, 2> enum_names(ExifMode) {
  return {"exif", {{{ExifMode::kApply, "apply"}, {ExifMode::kIgnore, "ignore"}}}};
}

/// Options of a run that are not AMG parameters. YAML keys and flags have these names.
struct IoOptions {
  std::string model;                ///< TorchScript model file
  std::vector<std::string> input;   ///< image files and folders; "-" reads paths from stdin
  std::string input_list;           ///< a file with one image path per line
  bool recursive = false;           ///< descend into sub-folders of folder inputs
  std::string glob;                 ///< keep only files whose name matches (e.g. "*.jpg")
  bool glob_ignore_case = false;    ///< glob matches letters of either case
  std::string out;                  ///< one COCO instances JSON for the whole run
  std::string out_dir;              ///< per-image outputs (SA-1B JSON, or PNG masks + metadata.csv)
  std::string jsonl;                ///< one JSON line per image; "-" = stdout
  std::string yolo;                 ///< YOLO segmentation labels, one .txt per image
  bool overlay = false;             ///< with out_dir: overlay_dir = out_dir
  std::string overlay_dir;          ///< a picture of the masks over each image goes here
  bool overlay_scores = false;      ///< overlays print each mask's scores after its id
  bool polygons = false;            ///< segmentation as polygons instead of RLE (Label Studio, CVAT)
  Device device;                    ///< auto, cpu, cuda or cuda:N
  Precision precision = Precision::kAuto;  ///< auto (the model file's), fp32, bf16 or fp16
  int threads = 0;                  ///< CPU threads for LibTorch and the BLAS; 0 = the CPUs the process may use
  Decoder decoder = Decoder::kAuto; ///< auto, export (the export's graphs) or native (sam2-amg's own, CPU)
  ExifMode exif = ExifMode::kApply; ///< apply or ignore the EXIF orientation tag
  std::int64_t max_image_pixels = std::int64_t{1} << 28;  ///< larger images are skipped unread
  bool accept_corrupt_images = false;  ///< decode PNGs/JPEGs whose decoder reports damaged data
  bool resume = false;              ///< skip images a previous, interrupted run finished
  bool overwrite = false;           ///< replace existing outputs (without it, or resume, they are refused)
  bool stats = false;               ///< write each image's filter funnel and sum it in the summary
  std::string shard;                ///< "I/N"; empty: from SLURM_ARRAY_TASK_* or JOB_COMPLETION_INDEX; "none"
  int shard_count = 0;              ///< N for JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs)
  Postprocess postprocess = Postprocess::kFused;  ///< fused or reference: same masks, different cost
  bool matmul_tf32 = false;         ///< TF32 for CUDA matrix products (off: PyTorch's default)
};

template <typename V>
void for_each_io_param(V&& v) {
  v("model", &IoOptions::model, "TorchScript model (docs/model-contract.md; make-synthetic-model for a test one)");
  v("input", &IoOptions::input, "Image files or folders; - reads paths from stdin");
  v("input_list", &IoOptions::input_list, "File with one image path per line");
  v("recursive", &IoOptions::recursive, "Descend into sub-folders of folder inputs");
  v("glob", &IoOptions::glob, "Keep only files in folder inputs whose name matches this pattern, e.g. '*.jpg'");
  v("glob_ignore_case", &IoOptions::glob_ignore_case, "glob matches letters of either case ('*.jpg' takes X.JPG)");
  v("out", &IoOptions::out, "COCO instances JSON for the whole run");
  v("out_dir", &IoOptions::out_dir, "Folder for per-image outputs (SA-1B JSON, or PNG masks + metadata.csv)");
  v("jsonl", &IoOptions::jsonl, "One JSON line per image to this file; - for stdout");
  v("yolo", &IoOptions::yolo, "Folder for YOLO segmentation labels: <name>.txt per image (class 0, normalised "
                              "polygons), as Ultralytics reads a labels/ folder");
  v("overlay", &IoOptions::overlay, "With out_dir: write overlays into it (same as overlay_dir = out_dir)");
  v("overlay_dir", &IoOptions::overlay_dir,
    "Write a picture of each image's masks here (<stem>.overlay.png: fills, outlines, mask ids), beside any output");
  v("overlay_scores", &IoOptions::overlay_scores, "Overlays show each mask's predicted IoU/stability after its id");
  v("polygons", &IoOptions::polygons, "Write segmentations as polygons instead of RLE");
  v("device", &IoOptions::device, "auto, cpu, cuda or cuda:N");
  v("precision", &IoOptions::precision, "auto (the model file's), fp32, bf16 or fp16");
  v("threads", &IoOptions::threads,
    "CPU threads for LibTorch and the BLAS (0 = the CPUs this process may use: its affinity within its cgroup's "
    "quota)");
  v("decoder", &IoOptions::decoder,
    "auto (native on the CPU where the export allows it, else the export's graphs), export (the export's own "
    "graphs: an exact export decodes with the reference's arithmetic, bit for bit on the CPU) or native "
    "(sam2-amg's own decoder over the export's weights, CPU only; equal up to float32 rounding)");
  v("exif", &IoOptions::exif, "apply or ignore the EXIF orientation of JPEGs");
  v("max_image_pixels", &IoOptions::max_image_pixels, "Skip images with more pixels than this, unread");
  v("accept_corrupt_images", &IoOptions::accept_corrupt_images,
    "Decode PNGs and JPEGs whose decoder reports damaged data (the damaged part comes out grey) instead of "
    "skipping them");
  v("resume", &IoOptions::resume, "Skip images an interrupted run already finished");
  v("overwrite", &IoOptions::overwrite, "Replace existing outputs (without this or resume they are refused)");
  v("stats", &IoOptions::stats, "Write each image's filter funnel (candidates kept per stage) and sum it");
  v("shard", &IoOptions::shard, "Process shard I/N of the inputs; default from SLURM_ARRAY_TASK_ID/COUNT or "
                                "JOB_COMPLETION_INDEX; none to disable");
  v("shard_count", &IoOptions::shard_count, "Number of shards with JOB_COMPLETION_INDEX (or SAM2AMG_SHARD_COUNT)");
  v("postprocess", &IoOptions::postprocess,
    "fused (statistics on the fly, only surviving masks upsampled) or reference (every candidate upsampled in "
    "float32, as the Python reference); same masks");
  v("matmul_tf32", &IoOptions::matmul_tf32,
    "TF32 for CUDA matrix products at run time (PyTorch's default and the reference's: off). Convolutions "
    "follow the setting recorded in the model file at export");
}

struct RunConfig {
  AmgConfig amg;
  IoOptions io;
};

/// Checks the I/O options every subcommand shares (ranges, --overlay with --out-dir, overlay
/// options with an overlay). Throws
/// UsageError.
void validate_io(const IoOptions& io);

/// Loads a YAML config into `config`, overwriting only the keys the file sets. Keys are the
/// Python parameter names and the IoOptions names. Unknown and duplicate keys, bad types and
/// bad values throw UsageError naming the file, the line and (for a typo) the closest key.
void load_yaml_config(const std::string& path, RunConfig& config);

/// Parses YAML text (same rules; `source` names it in messages).
void load_yaml_config_text(const std::string& text, const std::string& source, RunConfig& config);

/// Which keys to_yaml writes.
enum class YamlKeys {
  kAll,       ///< every key (--print-config)
  kRecorded,  ///< a run's provenance: the extension output filters only when set, so a run without
              ///< them records the same config as before they existed (resume compares it)
};

/// The effective config as YAML that reproduces the run when loaded again (both forms do: an
/// omitted filter is off).
std::string to_yaml(const RunConfig& config, YamlKeys keys = YamlKeys::kAll);

/// The key closest to `key` among all valid keys (edit distance), for "did you mean".
std::string closest_config_key(const std::string& key);

/// The name closest to `word` among `names` (edit distance; the first of equals), and that
/// distance; for "did you mean" (config keys, command-line flags). Empty names: {"", SIZE_MAX}.
std::pair<std::string, size_t> closest_name(const std::string& word, const std::vector<std::string>& names);

}  // namespace sam2amg
