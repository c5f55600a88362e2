#pragma once
/// The run's outputs, in one place: which files a run (or one shard of it) writes, what is
/// already done (resume), and the shard's commit marker, written last. The shard files' names
/// (and how `merge` finds them) are io/shard_files.h. Implemented by job: outputs.cpp (the paths
/// and the outputs table), output_guard.cpp (the checks before any work, OutputGuard),
/// run_outputs.cpp (RunOutputs).
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/inputs.h"
#include "io/overlay.h"
#include "io/safe_files.h"
#include "io/shard_files.h"
#include "io/shards.h"
#include "io/writers.h"

namespace sam2amg {

struct IoOptions;

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
  bool mask_folders = true; ///< --out-dir writes <stem>/ mask folders (binary_mask), else <stem>.json
};

/// Maps the I/O options and the shard to the output paths. The marker goes next to the COCO
/// file, else into the output folder, else next to the JSONL file, else into the YOLO folder.
/// `output_mode` names --out-dir's per-image targets (mask folders or JSON files).
OutputPaths plan_outputs(const IoOptions& io, const std::optional<Shard>& shard,
                         OutputMode output_mode = OutputMode::kBinaryMask);

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

/// One row of a run's outputs table: a file or folder the run writes, or a side file of one (the
/// COCO journal, run.json, the YOLO manifest, a lock, a shard's marker), with everything the run
/// does about it before and after its work. The table is the one list of a run's outputs: the
/// guard, the checks, --dry-run, RunOutputs and the cleanup of a run that never started all
/// iterate it. Adding an output is adding a row (output_table) and, for a new writer, its case in
/// RunOutputs.
struct OutputRow {
  enum class Kind { kFile, kFolder, kStdout };
  enum class Role { kOutput, kSideFile, kLock };
  /// How an earlier run's output is recognised (refused without --resume or --overwrite).
  enum class Earlier { kNever, kExists, kNonEmpty };
  /// Which writer RunOutputs opens for an output row (kNone: a side file, a lock, an overlay file).
  enum class Writer { kNone, kCoco, kPerImage, kJsonl, kYolo, kOverlay };

  std::string flag;        ///< the flag it comes from: "--out", "--jsonl", "--out-dir", ...
  std::string what;        ///< what it is, for listings and messages: "COCO file", "journal", ...
  std::string path;
  Kind kind = Kind::kFile;
  Role role = Role::kOutput;
  Writer writer = Writer::kNone;
  bool resumable = true;   ///< --resume continues it (else it is rewritten whole)
  Earlier earlier = Earlier::kNever;
  std::string earlier_means;  ///< what an existing one is: "holds an interrupted run's images"
  /// Before any work, a file's missing parent folders (a folder: itself and its parents) are
  /// created; a run that never started removes them again (innermost first, only while empty).
  bool create_parents = true;
  /// A run that never started removes this file if it did not exist before (locks: released).
  bool remove_if_never_started = true;
  bool checked_for_names = true;  ///< may not name an input, the input list or another output
  /// A per-image target (an --out-dir file or mask folder, a YOLO label): an existing one that no
  /// earlier run of this output recorded is another's file, refused without --overwrite.
  bool per_image = false;
  std::string folder;  ///< a per-image target's output folder
};

/// The run's outputs table, from its output paths (and the inputs, which name the overlays).
std::vector<OutputRow> output_table(const OutputPaths& paths, const std::vector<InputFile>& inputs);

/// True when the I/O options name at least one output a run writes its masks to (a row of the
/// outputs table with a writer; overlays alone are not one).
bool has_mask_output(const IoOptions& io);

/// The flags of the outputs a run can write its masks to, for messages: "--out FILE.json, ...".
std::string mask_output_flags();

/// Every check OutputGuard makes, without creating, locking or writing anything: outputs that
/// name inputs or each other, earlier outputs, that each output can be written (an existing one
/// is writable, else the nearest existing folder above it is, where it would be created), and
/// the writers' own checks of the inputs (two inputs sharing a YOLO label). For --dry-run, and the
/// guard's first step, so both refuse alike. Throws UsageError or OutputError.
void check_outputs(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list);

/// With --resume (or a shard), the checks the writers make of what they would continue, reading
/// only: an output recorded by another model or config is refused (UsageError naming the settings
/// that differ), as the run would refuse it. For --dry-run.
void check_resumable_outputs(const OutputPaths& paths, const Provenance& provenance);

/// Guards a run's outputs, before any work and for the whole run: every check of check_outputs,
/// then the parents of every output created (or, failing one, none: the run refuses up front),
/// and an exclusive lock on each output (a second run writing one of them fails at once, exit 2).
/// Until started() is called, the run has not begun: destroying the guard then removes what it
/// and the writers created (outputs that did not exist before, folders it made), so a run that
/// stops before its first image leaves nothing. Throws UsageError or OutputError.
class OutputGuard {
 public:
  OutputGuard(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list);
  ~OutputGuard();
  OutputGuard(const OutputGuard&) = delete;
  OutputGuard& operator=(const OutputGuard&) = delete;
  /// The run has written (or finished) something: its outputs stay, whatever happens next.
  void started() { started_ = true; }

 private:
  void undo();

  std::vector<OutputLock> locks_;
  std::vector<std::string> created_dirs_;   ///< folders this guard created
  std::vector<std::string> absent_files_;   ///< output files that did not exist when it began
  bool started_ = false;
};

/// The writers a run asked for, opened on its output paths. Decides, in one place, which inputs
/// are already done and commits a shard after its writers.
class RunOutputs {
 public:
  /// `inputs`: the whole run's (not only a shard's), from which per-image names are made.
  /// `guard` (when given) learns when the run has started (its first write, or finish()).
  RunOutputs(const OutputPaths& paths, OutputMode output_mode, SegmentationFormat format,
             const OverlayStyle& overlay_style, const Provenance& provenance, const std::vector<InputFile>& inputs,
             OutputGuard* guard = nullptr);
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
  OutputGuard* guard_ = nullptr;
};

}  // namespace sam2amg
