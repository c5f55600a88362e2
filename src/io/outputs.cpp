#include "io/outputs.h"

#include <filesystem>

#include "common/error.h"
#include "common/printable.h"
#include "io/json_files.h"
#include "io/run_config.h"
#include "io/shard_identity.h"

namespace sam2amg {

namespace fs = std::filesystem;

OutputPaths plan_outputs(const IoOptions& io, const std::optional<Shard>& shard, OutputMode output_mode) {
  OutputPaths p;
  p.shard = shard;
  p.mask_folders = output_mode == OutputMode::kBinaryMask;
  p.coco = io.out;
  p.out_dir = io.out_dir;
  p.jsonl = io.jsonl;
  p.yolo = io.yolo;
  if (!p.yolo.empty()) p.yolo_manifest = yolo_manifest_path(p.yolo, shard ? shard_label(*shard) : "");
  p.overlay_dir = io.overlay ? io.out_dir : io.overlay_dir;
  p.resume = io.resume;
  p.overwrite = io.overwrite;
  if (!shard) return p;
  // A shard writes its own files and commits them with a marker.
  if (!io.out.empty()) p.done_marker = shard_done_path(io.out, *shard);
  else if (!io.out_dir.empty()) p.done_marker = io.out_dir + "/" + shard_done_name(*shard);
  else if (io.yolo.empty() || (!io.jsonl.empty() && io.jsonl != "-")) p.done_marker = shard_done_path(io.jsonl, *shard);
  else p.done_marker = io.yolo + "/" + shard_done_name(*shard);
  if (!p.coco.empty()) p.coco = shard_path(p.coco, *shard);
  if (!p.jsonl.empty() && p.jsonl != "-") p.jsonl = shard_path(p.jsonl, *shard);
  p.resume = true;
  return p;
}

IoOptions recorded_io(const IoOptions& io, const OutputPaths& paths) {
  IoOptions r = io;
  r.out = paths.coco;
  r.jsonl = paths.jsonl;
  r.resume = false;  // resuming (or replacing) does not change what the outputs hold
  r.overwrite = false;
  return r;
}

bool shard_committed(const OutputPaths& paths) {
  std::error_code ec;
  return paths.shard && fs::exists(paths.done_marker, ec);
}

void commit_shard(const OutputPaths& paths, const Provenance& provenance, const RunEnd& end, const ShardSummary& s) {
  try {
    write_file_atomically(paths.done_marker, shard_marker_text(provenance, end, s.images, s.masks));
  } catch (const OutputError&) {
    throw OutputError(paths.done_marker, "cannot write the shard's done marker");
  }
}

namespace {

OutputRow file_row(std::string flag, std::string what, std::string path, OutputRow::Role role, OutputRow::Writer writer,
                   OutputRow::Earlier earlier, std::string earlier_means) {
  OutputRow r;
  r.flag = std::move(flag);
  r.what = std::move(what);
  r.path = std::move(path);
  r.role = role;
  r.writer = writer;
  r.earlier = earlier;
  r.earlier_means = std::move(earlier_means);
  return r;
}

OutputRow lock_row(const std::string& flag, const std::string& path) {
  OutputRow r = file_row(flag, "lock", path, OutputRow::Role::kLock, OutputRow::Writer::kNone,
                         OutputRow::Earlier::kNever, "");
  r.checked_for_names = false;
  return r;
}

OutputRow folder_row(const std::string& flag, const std::string& what, const std::string& path,
                     OutputRow::Writer writer) {
  OutputRow r = file_row(flag, what, path, OutputRow::Role::kOutput, writer, OutputRow::Earlier::kNever, "");
  r.kind = OutputRow::Kind::kFolder;
  r.remove_if_never_started = false;  // a folder goes only while empty (create_parents)
  return r;
}

OutputRow per_image_row(const std::string& flag, const std::string& what, const std::string& folder,
                        const std::string& relative) {
  OutputRow r = file_row(flag, what, path_inside(folder, relative), OutputRow::Role::kSideFile,
                         OutputRow::Writer::kNone, OutputRow::Earlier::kExists,
                         "exists, and no earlier run of this output wrote it");
  r.per_image = true;
  r.folder = folder;
  r.create_parents = false;           // the writer makes sub-folders as it goes
  r.remove_if_never_started = false;  // written only once the run has started
  return r;
}

}  // namespace

std::vector<OutputRow> output_table(const OutputPaths& paths, const std::vector<InputFile>& inputs) {
  using Role = OutputRow::Role;
  using Writer = OutputRow::Writer;
  using Earlier = OutputRow::Earlier;
  std::vector<OutputRow> t;
  const std::string folder_lock = paths.shard ? shard_label(*paths.shard) + ".lock" : ".sam2amg.lock";
  if (!paths.coco.empty()) {
    t.push_back(file_row("--out", "COCO file", paths.coco, Role::kOutput, Writer::kCoco, Earlier::kNonEmpty, "exists"));
    t.push_back(file_row("--out", "journal", coco_journal_path(paths.coco), Role::kSideFile, Writer::kNone,
                         Earlier::kExists, "holds an interrupted run's images"));
    t.push_back(lock_row("--out", paths.coco + ".lock"));
  }
  if (!paths.jsonl.empty()) {
    if (paths.jsonl == "-") {
      OutputRow r = file_row("--jsonl", "JSON lines", "-", Role::kOutput, Writer::kJsonl, Earlier::kNever, "");
      r.kind = OutputRow::Kind::kStdout;
      r.resumable = false;
      r.create_parents = r.remove_if_never_started = false;
      t.push_back(r);
    } else {
      t.push_back(file_row("--jsonl", "JSON lines", paths.jsonl, Role::kOutput, Writer::kJsonl, Earlier::kNonEmpty,
                           "exists"));
      t.push_back(lock_row("--jsonl", paths.jsonl + ".lock"));
    }
  }
  if (!paths.out_dir.empty()) {
    t.push_back(folder_row("--out-dir", "per-image outputs", paths.out_dir, Writer::kPerImage));
    t.push_back(file_row("--out-dir", "run record", per_image_run_record_path(paths.out_dir), Role::kSideFile,
                         Writer::kNone, Earlier::kExists, "holds an earlier run's outputs"));
    t.back().checked_for_names = false;  // inside the folder checked above
    t.push_back(lock_row("--out-dir", paths.out_dir + "/" + folder_lock));
    // Without an earlier run's run.json, an existing target is another's file (resume: the
    // per-image writer refuses one that records no image of this run).
    for (const auto& [input, stem] : output_stems(inputs))
      t.push_back(per_image_row("--out-dir", (paths.mask_folders ? "mask folder of " : "masks of ") + printable(input),
                                paths.out_dir, stem + (paths.mask_folders ? "" : ".json")));
  }
  if (!paths.yolo.empty()) {
    t.push_back(folder_row("--yolo", "YOLO labels", paths.yolo, Writer::kYolo));
    t.push_back(file_row("--yolo", "manifest", paths.yolo_manifest, Role::kSideFile, Writer::kNone, Earlier::kNonEmpty,
                         "holds an earlier run's labels"));
    t.back().checked_for_names = false;
    t.push_back(lock_row("--yolo", paths.yolo + "/" + folder_lock));
    // Labels that are there already (ground truth, another tool's) are never replaced unasked.
    for (const auto& [input, label] : yolo_label_names(inputs))
      t.push_back(per_image_row("--yolo", "label of " + printable(input), paths.yolo, label));
  }
  if (!paths.overlay_dir.empty()) {
    OutputRow folder = folder_row("--overlay-dir", "overlays", paths.overlay_dir, Writer::kOverlay);
    folder.checked_for_names = paths.overlay_dir != paths.out_dir;  // --overlay: --out-dir's folder
    t.push_back(folder);
    // Its own lock name: the overlay folder may be --out-dir, locked above.
    t.push_back(lock_row("--overlay-dir", paths.overlay_dir + "/" +
                                              (paths.shard ? shard_label(*paths.shard) + ".overlays.lock"
                                                           : ".sam2amg-overlays.lock")));
    for (const auto& [input, overlay] : overlay_paths(paths.overlay_dir, inputs)) {
      t.push_back(file_row("--overlay-dir", "overlay of " + printable(input), overlay, Role::kSideFile, Writer::kNone,
                           Earlier::kExists, "exists"));
      t.back().create_parents = false;  // the overlay writer makes sub-folders as it goes
    }
  }
  if (!paths.done_marker.empty()) {
    t.push_back(file_row("--shard", "done marker", paths.done_marker, Role::kSideFile, Writer::kNone, Earlier::kNever, ""));
    t.back().resumable = false;
  }
  return t;
}

bool has_mask_output(const IoOptions& io) {
  for (const OutputRow& row : output_table(plan_outputs(io, std::nullopt), {}))
    if (row.writer != OutputRow::Writer::kNone && row.writer != OutputRow::Writer::kOverlay) return true;
  return false;
}

std::string mask_output_flags() { return "--out FILE.json, --out-dir DIR, --jsonl FILE|- or --yolo DIR"; }

}  // namespace sam2amg
