#include "io/outputs.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "common/printable.h"
#include "io/json_files.h"
#include "io/run_config.h"
#include "io/run_lines.h"
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

std::string canonical(const std::string& path) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

bool non_empty(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) return false;
  return !fs::is_regular_file(st) || fs::file_size(path, ec) > 0;
}

// An existing output that marks an earlier run.
bool earlier_present(const OutputRow& row) {
  std::error_code ec;
  // A target the writer refuses to reach (exit 5, naming the link) is not looked at beyond it.
  if (row.per_image && blocked_inside(row.folder, row.path)) return false;
  switch (row.earlier) {
    case OutputRow::Earlier::kNever: return false;
    case OutputRow::Earlier::kExists: return fs::exists(fs::symlink_status(row.path, ec));
    case OutputRow::Earlier::kNonEmpty: return non_empty(row.path);
  }
  return false;
}

// Outputs that name an input, the input list or each other, and file outputs that are folders.
void check_output_names(const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs,
                        const std::string& input_list) {
  std::map<std::string, std::string> taken;  // canonical path -> what it is
  for (const InputFile& in : inputs) taken.emplace(in.key.empty() ? canonical(in.path) : in.key, "an input");
  if (!input_list.empty()) taken.emplace(canonical(input_list), "--input-list");
  for (const OutputRow& row : table) {
    if (!row.checked_for_names || row.kind == OutputRow::Kind::kStdout) continue;
    const std::string name = row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what;
    const auto [it, fresh] = taken.emplace(canonical(row.path), name);
    if (!fresh)
      throw UsageError(name + " '" + printable(row.path) + "' is also " + it->second +
                       ": writing it would destroy that; choose another output path");
  }
  // The same file under another name (a hard link): compare inodes, not paths.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::string>> existing;  // -> (what, path)
  for (const OutputRow& row : table) {
    if (!row.checked_for_names || row.kind == OutputRow::Kind::kStdout) continue;
    struct stat st {};
    if (::stat(row.path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      existing.emplace(std::make_pair(st.st_dev, st.st_ino),
                       std::make_pair(row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what, row.path));
  }
  if (!existing.empty()) {
    std::vector<std::string> sources;
    for (const InputFile& in : inputs) sources.push_back(in.path);
    if (!input_list.empty()) sources.push_back(input_list);
    for (const std::string& src : sources) {
      struct stat st {};
      if (::stat(src.c_str(), &st) != 0) continue;
      const auto it = existing.find({st.st_dev, st.st_ino});
      if (it != existing.end())
        throw UsageError(it->second.first + " '" + printable(it->second.second) + "' is the same file as '" +
                         printable(src) + "' (a hard link): writing it would destroy that; choose another output path");
    }
  }
  std::error_code ec;
  for (const OutputRow& row : table)
    if (row.role == OutputRow::Role::kOutput && row.kind == OutputRow::Kind::kFile && row.writer != OutputRow::Writer::kNone &&
        fs::is_directory(row.path, ec))
      throw UsageError(row.flag + " '" + printable(row.path) + "' is a folder: give a file name" +
                       (row.flag == "--jsonl" ? ", or - for standard output" : " (or use --out-dir for a folder)"));
}

// Outputs an earlier run left, refused unless resuming or overwriting.
void check_existing_outputs(const OutputPaths& paths, const std::vector<OutputRow>& table) {
  if (paths.resume || paths.overwrite) return;
  for (const OutputRow& row : table) {
    if (!earlier_present(row)) continue;
    const std::string name = row.role == OutputRow::Role::kOutput && row.writer != OutputRow::Writer::kNone
                                 ? row.flag + " '" + printable(row.path) + "'"
                                 : "'" + printable(row.path) + "' (" + row.flag + "'s " + row.what + ")";
    throw UsageError(name + " " + row.earlier_means +
                     (row.per_image ? ": move it away, or give --overwrite to replace it"
                                    : ": give --resume to continue the run that wrote it, or --overwrite to replace it"));
  }
}

// An output can be written: an existing file or folder is writable, or else the nearest
// existing folder above it is (where it would be created). Nothing is created to find out.
void check_writable(const std::string& path, const std::string& flag) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (fs::exists(p, ec)) {
    const int mode = fs::is_directory(p, ec) ? (W_OK | X_OK) : W_OK;
    if (::access(p.c_str(), mode) != 0) throw OutputError(path, flag + ": not writable");
    return;
  }
  for (p = p.parent_path(); !p.empty(); p = p.parent_path()) {
    if (!fs::exists(p, ec)) continue;
    if (!fs::is_directory(p, ec)) throw OutputError(path, flag + ": '" + printable(p.string()) + "' is not a folder");
    if (::access(p.c_str(), W_OK | X_OK) != 0)
      throw OutputError(path, flag + ": cannot create it in '" + printable(p.string()) + "' (not writable)");
    return;
  }
}

// What the writers check of the inputs before any work.
void check_writer_inputs(const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs) {
  for (const OutputRow& row : table)
    if (row.writer == OutputRow::Writer::kYolo) yolo_label_names(inputs);  // throws on a shared label
}

// Every check before any work. The guard looks at earlier outputs only once it holds the locks
// (`existing` false), so a second run on a locked output says it is locked.
void check_all(const OutputPaths& paths, const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs,
               const std::string& input_list, bool existing) {
  check_output_names(table, inputs, input_list);
  check_writer_inputs(table, inputs);
  if (existing) check_existing_outputs(paths, table);
  for (const OutputRow& row : table)
    if (row.kind != OutputRow::Kind::kStdout && row.role != OutputRow::Role::kLock && !row.per_image)  // its folder's
      check_writable(row.path, row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what);
}

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

void check_outputs(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list) {
  check_all(paths, output_table(paths, inputs), inputs, input_list, /*existing=*/true);
}

void check_resumable_outputs(const OutputPaths& paths, const Provenance& provenance) {
  if (!paths.resume) return;
  for (const OutputRow& row : output_table(paths, {})) {
    switch (row.writer) {
      case OutputRow::Writer::kCoco: check_coco_resumable(row.path, provenance); break;
      case OutputRow::Writer::kPerImage:
        if (!paths.shard) check_per_image_resumable(row.path, provenance);  // as RunOutputs opens it
        break;
      case OutputRow::Writer::kJsonl:
        if (row.kind != OutputRow::Kind::kStdout)
          check_run_lines_resumable(row.path, provenance, "--jsonl '" + printable(row.path) + "'");
        break;
      case OutputRow::Writer::kYolo:
        check_run_lines_resumable(paths.yolo_manifest, provenance, "'" + printable(paths.yolo_manifest) + "'");
        break;
      case OutputRow::Writer::kNone:
      case OutputRow::Writer::kOverlay: break;
    }
  }
}

OutputGuard::OutputGuard(const OutputPaths& paths, const std::vector<InputFile>& inputs,
                         const std::string& input_list) {
  const std::vector<OutputRow> table = output_table(paths, inputs);
  // Everything that can refuse the run refuses it here, before anything is created.
  check_all(paths, table, inputs, input_list, /*existing=*/false);
  try {
    std::error_code ec;
    // Parents first (every one, or none: a failure undoes the others), then the locks.
    auto create = [&](const fs::path& dir) {
      std::vector<fs::path> missing;
      for (fs::path p = dir; !p.empty() && !fs::exists(fs::symlink_status(p, ec)); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
      }
      for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        fs::create_directory(*it, ec);
        if (ec) throw OutputError(it->string(), ec.message());
        created_dirs_.push_back(it->string());
      }
    };
    for (const OutputRow& row : table) {
      if (row.kind == OutputRow::Kind::kStdout) continue;
      if (row.remove_if_never_started && row.role != OutputRow::Role::kLock && !fs::exists(fs::symlink_status(row.path, ec)))
        absent_files_.push_back(row.path);
      if (!row.create_parents) continue;
      create(row.kind == OutputRow::Kind::kFolder ? fs::path(row.path) : fs::path(row.path).parent_path());
    }
    // One run per output at a time. The lock comes before the second look at existing outputs,
    // so a run that finishes meanwhile cannot be overwritten unseen.
    for (const OutputRow& row : table)
      if (row.role == OutputRow::Role::kLock) {
        // The output it guards: the row above it of the same flag.
        std::string guarded = row.path;
        for (const OutputRow& r : table)
          if (r.flag == row.flag && r.role == OutputRow::Role::kOutput) {
            guarded = r.path;
            break;
          }
        locks_.emplace_back(row.path, guarded);
      }
    check_existing_outputs(paths, table);
  } catch (...) {
    undo();
    throw;
  }
}

void OutputGuard::undo() {
  locks_.clear();
  std::error_code ec;
  for (const std::string& f : absent_files_) fs::remove(f, ec);  // this run's own: absent before it
  // Only when still empty; the innermost first.
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec);
  created_dirs_.clear();
  absent_files_.clear();
}

OutputGuard::~OutputGuard() {
  if (!started_) {
    undo();
    return;
  }
  locks_.clear();
  std::error_code ec;
  // Folders the run made but left empty (no image written to them) go too.
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec);
}

RunOutputs::RunOutputs(const OutputPaths& paths, OutputMode output_mode, SegmentationFormat format,
                       const OverlayStyle& overlay_style, const Provenance& provenance,
                       const std::vector<InputFile>& inputs, OutputGuard* guard)
    : paths_(paths), provenance_(provenance), guard_(guard) {
  for (const OutputRow& row : output_table(paths_, inputs)) {
    // A folder removed or replaced mid-run must not be recreated silently with the earlier images gone.
    if (row.role == OutputRow::Role::kOutput && row.kind == OutputRow::Kind::kFolder) {
      struct stat st {};
      if (::stat(row.path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) &&
          std::none_of(folders_.begin(), folders_.end(), [&](const Folder& f) { return f.path == row.path; }))
        folders_.push_back({row.path, st.st_dev, st.st_ino});
    }
    switch (row.writer) {
      case OutputRow::Writer::kNone: break;
      case OutputRow::Writer::kCoco:
        writers_.push_back(make_coco_writer(row.path, format, provenance, paths_.resume, &inputs));
        break;
      case OutputRow::Writer::kPerImage:
        // Shards share the folder and record each its own files and shard: only an unsharded
        // run compares run.json. Overlays (also --overlay's) come from the overlay writer.
        writers_.push_back(make_per_image_writer(row.path, output_mode, format, /*overlay=*/false, provenance, inputs,
                                                 paths_.resume && !paths_.shard));
        break;
      case OutputRow::Writer::kJsonl:
        writers_.push_back(make_jsonl_writer(row.path, format, provenance, paths_.resume));
        break;
      case OutputRow::Writer::kYolo:
        writers_.push_back(make_yolo_writer(row.path, paths_.yolo_manifest, provenance, inputs, paths_.resume));
        break;
      case OutputRow::Writer::kOverlay: {
        // Labels carry the ids of the masks' files beside them: --out-dir's <i>.png count from 0,
        // every annotation list's `id` from 1.
        OverlayStyle style = overlay_style;
        style.first_id = !paths_.out_dir.empty() && output_mode == OutputMode::kBinaryMask ? 0 : 1;
        writers_.push_back(make_overlay_writer(row.path, inputs, style));
        break;
      }
    }
  }
  // "<stem>/" or "<stem>.json" in --out-dir, "<stem>.overlay.png", "<name>.txt" in --yolo.
  if (!paths_.out_dir.empty()) longest_suffix_ = output_mode == OutputMode::kBinaryMask ? 0 : 5;
  stats_suffix_ = !paths_.out_dir.empty();
  if (!paths_.overlay_dir.empty()) longest_suffix_ = std::max<size_t>(longest_suffix_, 12);
  if (!paths_.yolo.empty()) longest_suffix_ = std::max<size_t>(longest_suffix_, 4);
  if (!paths_.out_dir.empty() || !paths_.overlay_dir.empty() || !paths_.yolo.empty()) stems_ = output_stems(inputs);
}

void RunOutputs::check_folders() const {
  for (const Folder& f : folders_) {
    struct stat st {};
    if (::stat(f.path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_dev != f.dev || st.st_ino != f.ino)
      throw OutputError(f.path, "was removed or replaced while this run wrote into it, with the images written "
                                "before: rerun with --resume to write them again");
  }
}

std::string RunOutputs::name_problem(const InputFile& input, bool stats) const {
  const auto it = stems_.find(input.path);
  if (it == stems_.end()) return "";
  const size_t suffix = stats && stats_suffix_ ? std::max<size_t>(longest_suffix_, 11) : longest_suffix_;
  const std::string& stem = it->second;
  size_t start = 0;
  for (;;) {
    const size_t slash = stem.find('/', start);
    const bool last = slash == std::string::npos;
    const size_t length = (last ? stem.size() : slash) - start + (last ? suffix : 0);
    if (length > NAME_MAX)
      return "its output name '" + printable(stem.substr(start, last ? std::string::npos : slash - start)) +
             "' (with the outputs' suffixes, " + std::to_string(length) + " bytes) is longer than file names may be (" +
             std::to_string(NAME_MAX) + " bytes); rename the file";
    if (last) return "";
    start = slash + 1;
  }
}

RunOutputs::~RunOutputs() = default;

bool RunOutputs::done(const InputFile& input) const {
  if (!paths_.resume) return false;
  // Every writer looks, even after one said no: each refuses a target it did not write.
  bool all_done = true;
  for (const auto& w : writers_) all_done = w->done(input) && all_done;
  return all_done;
}

void RunOutputs::write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) {
  check_folders();
  if (guard_) guard_->started();
  for (const auto& w : writers_)
    if (!paths_.resume || !w->done(info.input)) w->write(info, image, records);
}

void RunOutputs::finish(const RunEnd& end, const ShardSummary& summary) {
  check_folders();  // never "complete" in a folder that lost its images
  if (guard_) guard_->started();
  for (const auto& w : writers_) {
    w->set_run_end(end);
    w->finish(end.complete);
  }
  // Last: a shard whose marker exists is complete.
  if (end.complete && paths_.shard) commit_shard(paths_, provenance_, end, summary);
}

}  // namespace sam2amg
