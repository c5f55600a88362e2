#pragma once
/// The run's outputs, in one place: which files a run (or one shard of it) writes, the shard
/// naming scheme, what is already done (resume), and the shard's commit marker, written last.
/// `merge` finds the shard files through the same names.
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/inputs.h"
#include "io/overlay.h"
#include "io/safe_files.h"
#include "io/shards.h"
#include "io/writers.h"

namespace sam2amg {

struct IoOptions;

/// "shard-00042-of-01000".
std::string shard_label(const Shard& shard);

/// The shard of a label written by shard_label (at least five digits each); nullopt for anything else.
std::optional<Shard> parse_shard_label(const std::string& label);

/// "out/masks.json" -> "out/masks.shard-00042-of-01000.json" (the label goes before the extension).
std::string shard_path(const std::string& path, const Shard& shard);

/// The inverse of shard_path: "out/masks.shard-00042-of-01000.json" -> "out/masks.json"; any
/// other path is returned unchanged.
std::string unshard_path(const std::string& path);

/// The shard's commit marker next to `path`: "out/masks.shard-00042-of-01000.done.json".
std::string shard_done_path(const std::string& path, const Shard& shard);

/// Every file this process writes, from the I/O options and its shard.
struct OutputPaths {
  std::optional<Shard> shard;
  std::string coco;         ///< the COCO file (the shard's own when sharded); empty: none
  std::string out_dir;      ///< per-image outputs; empty: none
  std::string jsonl;        ///< JSON lines ("-": standard output, never sharded); empty: none
  std::string yolo;         ///< YOLO label folder (shared by shards); empty: none
  std::string yolo_manifest;  ///< what the YOLO writer wrote (resume): one per shard
  std::string overlay_dir;  ///< overlay pictures (--overlay-dir, or --out-dir with --overlay); empty: none
  std::string done_marker;  ///< the shard's commit marker; empty when not sharded
  bool resume = false;      ///< a shard always resumes, so a requeued one continues
  bool overwrite = false;   ///< existing outputs may be replaced
};

/// Maps the I/O options and the shard to the output paths. The marker goes next to the COCO
/// file, else into the output folder, else next to the JSONL file, else into the YOLO folder.
OutputPaths plan_outputs(const IoOptions& io, const std::optional<Shard>& shard);

/// The I/O options as this process ran them (its own files, resume off): the config recorded in
/// the outputs' provenance, which reproduces them.
IoOptions recorded_io(const IoOptions& io, const OutputPaths& paths);

/// What a shard's marker records.
struct ShardSummary {
  size_t images = 0;
  size_t masks = 0;
  size_t unreadable = 0;
};

/// True when the shard's marker exists: the shard is complete and is not run again.
bool shard_committed(const OutputPaths& paths);

/// Writes the shard's marker atomically (shard_marker_text: what the shard is, and how it ended).
/// Call after every writer finished. Throws OutputError.
void commit_shard(const OutputPaths& paths, const Provenance& provenance, const RunEnd& end,
                  const ShardSummary& summary);

/// The shard files of a run, as `merge` finds them: index -> path.
struct ShardFiles {
  int count = 0;                        ///< N from the file names (or the expected count)
  std::map<int, std::string> outputs;   ///< the shards' output files
  std::map<int, std::string> markers;   ///< their commit markers
};

/// The shards of `--out F.json`: F.shard-IIIII-of-NNNNN.json and their .done.json markers.
/// Throws UsageError when the names disagree on N or with `expected_count` (0 = any).
ShardFiles find_coco_shards(const std::string& out, int expected_count);

/// The shard markers of `--out-dir DIR` (the per-image files carry no shard name).
ShardFiles find_dir_shards(const std::string& dir, int expected_count);

/// Every check OutputGuard makes, without creating, locking or writing anything, and that each
/// output can be written (an existing one is writable, else the nearest existing folder above it
/// is). For --dry-run. Throws UsageError or OutputError.
void check_outputs(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list);

/// Guards a run's outputs, before any work and for the whole run: an exclusive lock on each
/// output (a second run writing one of them fails at once, exit 2); outputs that name an input,
/// the input list or each other are refused (exit 2); so is an existing output (or an interrupted
/// run's journal, an input's overlay) unless resuming or overwriting. Throws UsageError or
/// OutputError.
class OutputGuard {
 public:
  OutputGuard(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list);
  ~OutputGuard();
  OutputGuard(const OutputGuard&) = delete;
  OutputGuard& operator=(const OutputGuard&) = delete;

 private:
  std::vector<OutputLock> locks_;
  std::vector<std::string> created_dirs_;  ///< output folders this guard created: removed again if left empty
};

/// The writers a run asked for, opened on its output paths. Decides, in one place, which inputs
/// are already done and commits a shard after its writers.
class RunOutputs {
 public:
  /// `inputs`: the whole run's (not only a shard's), from which per-image names are made.
  RunOutputs(const OutputPaths& paths, OutputMode output_mode, SegmentationFormat format,
             const OverlayStyle& overlay_style, const Provenance& provenance, const std::vector<InputFile>& inputs);
  ~RunOutputs();
  /// True when resuming and every writer already has `input`.
  bool done(const InputFile& input) const;
  /// Why `input`'s per-image output names cannot be made (a name longer than the file system's
  /// NAME_MAX with the longest suffix its outputs add; `stats`: <stem>.stats.json too), or "" when
  /// they can. Such an input is skipped by name (exit 4), never the run.
  std::string name_problem(const InputFile& input, bool stats) const;
  /// Writes one image to every writer that does not have it yet. Throws OutputError.
  void write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records);
  /// Ends the run: records `end` in the outputs' run-level provenance; when `end.complete` and
  /// sharded, commits the shard with `summary`.
  void finish(const RunEnd& end, const ShardSummary& summary);

 private:
  OutputPaths paths_;
  Provenance provenance_;
  /// Throws OutputError (exit 5) when a folder output is no longer the folder this run opened.
  void check_folders() const;
  struct Folder {
    std::string path;
    unsigned long long dev = 0, ino = 0;
  };
  std::vector<Folder> folders_;               ///< the folder outputs, as opened
  std::map<std::string, std::string> stems_;  ///< per-image names, when there are per-image outputs
  size_t longest_suffix_ = 0;                 ///< the most a per-image output adds to its stem
  bool stats_suffix_ = false;                 ///< --out-dir writes <stem>.stats.json with --stats
  std::vector<std::unique_ptr<MaskWriter>> writers_;
};

}  // namespace sam2amg
