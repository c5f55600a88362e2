#pragma once
/// Output writers, one source file each (coco_writer, per_image_writer, jsonl_writer, yolo_writer); which of them
/// a run opens, and on which paths, is io/outputs.h. Every writer writes atomically (temporary
/// file, then rename), records the run's provenance (tool version, model SHA-256, effective
/// config), and can resume.
#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "amg/amg_config.h"
#include "amg/mask_record.h"
#include "common/image.h"
#include "io/inputs.h"

namespace sam2amg {

/// The runtime a run used, as its provenance records it ("runtime"; --version prints the same).
struct RuntimeVersions {
  std::string libtorch;  ///< empty: not recorded
  std::string cuda;      ///< the CUDA of the LibTorch build; empty: a CPU-only LibTorch
  std::string driver;    ///< the NVIDIA driver; empty: none loaded
};

/// What a shard of a sharded run is: recorded in its outputs and its done marker, so that
/// `merge` can prove every shard is the one its file name says, of one input set.
struct ShardIdentity {
  int index = -1;              ///< -1: not sharded
  int count = 0;
  std::string inputs_sha256;   ///< the whole run's input list (inputs_sha256)
  std::size_t inputs = 0;      ///< inputs of the whole run
  std::size_t assigned = 0;    ///< inputs of this shard
};

/// What produced an output; written into every output.
struct Provenance {
  Provenance() = default;
  Provenance(std::string version, std::string model, std::string model_sha, std::string yaml, std::string exif_mode,
             ShardIdentity shard_identity = {}, RuntimeVersions runtime_versions = {})
      : tool_version(std::move(version)), model_path(std::move(model)), model_sha256(std::move(model_sha)),
        config_yaml(std::move(yaml)), exif(std::move(exif_mode)), runtime(std::move(runtime_versions)),
        shard(std::move(shard_identity)) {}
  std::string tool_version;
  std::string model_path;
  std::string model_sha256;
  std::string config_yaml;  ///< the effective config (to_yaml)
  std::string exif;         ///< "apply" or "ignore"
  RuntimeVersions runtime{};
  ShardIdentity shard;      ///< recorded as "shard" when sharded
};

/// How a run ended: recorded in the run-level provenance of the outputs that have one (COCO
/// `info.sam2_amg.run`, `--out-dir`'s run.json), so a file says whether it holds the whole run.
struct RunEnd {
  bool complete = true;                          ///< every input was handled
  std::string stopped_by;                        ///< the signal that ended the run early ("SIGTERM")
  std::vector<UnreadableInput> unreadable;       ///< images skipped: unreadable or unusable
  std::vector<UnreadableInput> skipped_entries;  ///< folder entries not listed (dangling links, ...)
};

/// How a segmentation is written.
enum class SegmentationFormat {
  kCompressedRle,    ///< {"size", "counts": "<pycocotools string>"}, iscrowd 0
  kUncompressedRle,  ///< {"size", "counts": [runs]}, iscrowd 1 (what supervision reads)
  kPolygon,          ///< [[x0, y0, x1, y1, ...], ...] one per part, iscrowd 0; a mask with a hole
                     ///< keeps compressed RLE (COCO polygons cannot express holes)
};

/// output_mode uncompressed_rle -> kUncompressedRle; polygons -> kPolygon; otherwise compressed.
SegmentationFormat segmentation_format(OutputMode output_mode, bool polygons);

/// One processed image as the writers see it.
struct ImageInfo {
  InputFile input;
  int width = 0;
  int height = 0;
  /// With --stats: how many candidates each stage kept (written with the image's output).
  const FilterFunnel* funnel = nullptr;
};

class MaskWriter {
 public:
  virtual ~MaskWriter() = default;
  /// True when a previous run already wrote this input (resume).
  virtual bool done(const InputFile& input) const = 0;
  /// Writes one image's masks. Throws OutputError.
  virtual void write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) = 0;
  /// Ends the run. `complete`: every input was handled, so resume state can be dropped.
  virtual void finish(bool complete) = 0;
  /// How the run ended, for the run-level provenance written by finish(); called before it.
  /// Writers without run-level provenance ignore it.
  virtual void set_run_end(const RunEnd& end) {}
};

/// One COCO instances file (images, annotations, one category id 1; ids from 1; pycocotools
/// bbox convention, the reference's bbox kept as bbox_xywh_ref). Images are journalled to
/// `<path>.partial.jsonl` as they finish and assembled at finish(), so memory stays flat and a
/// killed run resumes from the journal. finish() always leaves a valid file. With `resume` and no
/// journal, a finished file of equivalent settings is continued (its images are done; nothing new:
/// the file is left as it is); other settings are refused (UsageError naming them). `inputs`
/// (the whole run's) give each image's file_name (coco_file_names); without them, its name.
std::unique_ptr<MaskWriter> make_coco_writer(const std::string& path, SegmentationFormat format,
                                             const Provenance& provenance, bool resume,
                                             const std::vector<InputFile>* inputs = nullptr);

/// The COCO file_name of each input (input path -> name): its path relative to the common root of
/// all inputs (the deepest folder holding them all), so names are unique within a file, as a
/// dataset's folders lay them out ("d1/same.png", "d2/same.png"; one folder input: the names
/// relative to it).
std::map<std::string, std::string> coco_file_names(const std::vector<InputFile>& inputs);

/// Per-image outputs in `dir`, named after the input (its path relative to its folder input,
/// without extension): output_mode binary_mask writes `<stem>/<i>.png` and `<stem>/metadata.csv`
/// exactly like SAM 1's scripts/amg.py; the RLE modes write SA-1B-style `<stem>.json`. With
/// `overlay`, also `<stem>.overlay.jpg`. `dir/run.json` records the provenance; with `resume`, an
/// existing one of another model or config is refused (UsageError).
std::unique_ptr<MaskWriter> make_per_image_writer(const std::string& dir, OutputMode output_mode,
                                                  SegmentationFormat format, bool overlay,
                                                  const Provenance& provenance, const std::vector<InputFile>& inputs,
                                                  bool resume = false);

/// One JSON object per line and image ({"image", "annotations", "sam2_amg"}) to `path`, or to
/// standard output for "-". Lines are flushed as images finish; with `resume`, the complete
/// lines of an existing file are kept and its images count as done, unless a line comes from
/// another model or config (UsageError).
std::unique_ptr<MaskWriter> make_jsonl_writer(const std::string& path, SegmentationFormat format,
                                              const Provenance& provenance, bool resume);

/// YOLO segmentation labels, the layout Ultralytics reads (its labels/ folder beside images/):
/// `dir/<name>.txt` per image, `<name>` the input's name relative to its folder input without its
/// extension. One line per mask: class 0, then one polygon as normalised `x y` pairs (pixel
/// centres divided by the image size, six decimals); an image without masks gets an empty file.
/// A mask of several parts, or with holes, is still one polygon: its rings joined by zero-width
/// bridges (rle_to_single_ring), which an even-odd fill (OpenCV fillPoly, as Ultralytics decodes
/// labels) turns back into the parts with their holes. `manifest` (a JSON-lines file: run record,
/// then one line per label with its image's provenance) is what resume reads. Two inputs that would
/// share a label file are refused (UsageError).
std::unique_ptr<MaskWriter> make_yolo_writer(const std::string& dir, const std::string& manifest,
                                             const Provenance& provenance, const std::vector<InputFile>& inputs,
                                             bool resume);

/// The label file of each input (input path -> name relative to the YOLO folder). Throws
/// UsageError when two inputs would share one (YOLO finds labels by name without extension).
std::map<std::string, std::string> yolo_label_names(const std::vector<InputFile>& inputs);

/// The side files each writer owns, by name (io/outputs.h lists them in the run's outputs table).
/// The COCO writer's journal of finished images, beside its file: "<path>.partial.jsonl".
std::string coco_journal_path(const std::string& path);
/// The YOLO writer's manifest: "<dir>/sam2_amg.jsonl"; a shard's "<dir>/sam2_amg.<shard label>.jsonl".
std::string yolo_manifest_path(const std::string& dir, const std::string& shard_label);
/// The per-image writer's record of the run: "<dir>/run.json".
std::string per_image_run_record_path(const std::string& dir);

/// The checks each writer makes when it resumes, reading only (for --dry-run): the recorded run
/// of another model or config is refused (UsageError naming the settings). The COCO writer's: its
/// journal's run record, else its finished file's (true when there is one).
bool check_finished_coco_file(const std::string& path, const Provenance& provenance);
void check_coco_resumable(const std::string& path, const Provenance& provenance);
/// The per-image writer's: `dir`'s run.json; returns the config_sha256 it recorded ("" when none).
std::string check_per_image_resumable(const std::string& dir, const Provenance& provenance);

}  // namespace sam2amg
