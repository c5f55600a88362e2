#include "io/outputs.h"

#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "common/error.h"
#include "io/json_files.h"
#include "io/run_config.h"
#include "io/shard_identity.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDoneSuffix = ".done.json";

// "<prefix>shard-IIIII-of-NNNNN<suffix>" files in `dir`: index -> path. Sets `count` from the
// first name; a name with another N is an error.
std::map<int, std::string> find_shard_files(const fs::path& dir, const std::string& prefix, const std::string& suffix,
                                            int& count) {
  std::map<int, std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const auto shard = parse_shard_label(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    if (!shard) continue;
    if (count != 0 && shard->count != count)
      throw UsageError("shard files disagree on the shard count: " + name + " says " + std::to_string(shard->count) +
                       ", expected " + std::to_string(count));
    count = shard->count;
    found[shard->index] = e.path().string();
  }
  return found;
}

}  // namespace

std::string shard_label(const Shard& shard) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "shard-%05d-of-%05d", shard.index, shard.count);
  return buf;
}

std::optional<Shard> parse_shard_label(const std::string& label) {
  // The shape shard_label writes: "shard-I-of-N", each at least five digits (more from N = 100000).
  const auto digits = [&](size_t from, size_t to) {
    if (to - from < 5 || to - from > 9) return false;
    for (size_t i = from; i < to; ++i)
      if (label[i] < '0' || label[i] > '9') return false;
    return true;
  };
  const size_t of = label.find("-of-");
  if (label.rfind("shard-", 0) != 0 || of == std::string::npos || !digits(6, of) || !digits(of + 4, label.size()))
    return std::nullopt;
  const Shard s{std::stoi(label.substr(6, of - 6)), std::stoi(label.substr(of + 4))};
  if (shard_label(s) != label) return std::nullopt;  // one spelling per shard
  return s;
}

std::string shard_path(const std::string& path, const Shard& shard) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + shard_label(shard) + p.extension().string())).string();
}

std::string unshard_path(const std::string& path) {
  const fs::path p(path);
  const std::string stem = p.stem().string();
  const size_t dot = stem.rfind('.');
  if (dot == std::string::npos || !parse_shard_label(stem.substr(dot + 1))) return path;
  return (p.parent_path() / (stem.substr(0, dot) + p.extension().string())).string();
}

std::string shard_done_path(const std::string& path, const Shard& shard) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + shard_label(shard) + kDoneSuffix)).string();
}

OutputPaths plan_outputs(const IoOptions& io, const std::optional<Shard>& shard) {
  OutputPaths p;
  p.shard = shard;
  p.coco = io.out;
  p.out_dir = io.out_dir;
  p.jsonl = io.jsonl;
  p.yolo = io.yolo;
  if (!p.yolo.empty()) p.yolo_manifest = p.yolo + "/sam2_amg.jsonl";
  p.overlay_dir = io.overlay ? io.out_dir : io.overlay_dir;
  p.resume = io.resume;
  p.overwrite = io.overwrite;
  if (!shard) return p;
  // A shard writes its own files and commits them with a marker.
  if (!io.out.empty()) p.done_marker = shard_done_path(io.out, *shard);
  else if (!io.out_dir.empty()) p.done_marker = io.out_dir + "/" + shard_label(*shard) + kDoneSuffix;
  else if (io.yolo.empty() || (!io.jsonl.empty() && io.jsonl != "-")) p.done_marker = shard_done_path(io.jsonl, *shard);
  else p.done_marker = io.yolo + "/" + shard_label(*shard) + kDoneSuffix;
  if (!p.yolo.empty()) p.yolo_manifest = shard_path(p.yolo_manifest, *shard);
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

ShardFiles find_coco_shards(const std::string& out, int expected_count) {
  const fs::path p(out);
  const std::string prefix = p.stem().string() + ".";
  ShardFiles f;
  f.count = expected_count;
  f.outputs = find_shard_files(p.parent_path(), prefix, p.extension().string(), f.count);
  f.markers = find_shard_files(p.parent_path(), prefix, kDoneSuffix, f.count);
  return f;
}

ShardFiles find_dir_shards(const std::string& dir, int expected_count) {
  ShardFiles f;
  f.count = expected_count;
  f.markers = find_shard_files(dir, "", kDoneSuffix, f.count);
  f.outputs = f.markers;  // per-image files carry no shard name: the marker is the output
  return f;
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

// The files a run writes and the checks on them before any work, shared by OutputGuard and
// check_outputs (--dry-run).
struct PlannedFiles {
  std::string journal;                           ///< the COCO file's journal; empty: none
  bool jsonl_file = false;                       ///< --jsonl names a file (not stdout)
  std::map<std::string, std::string> overlays;   ///< input path -> its overlay file
};

PlannedFiles planned_files(const OutputPaths& paths, const std::vector<InputFile>& inputs) {
  PlannedFiles f;
  f.journal = paths.coco.empty() ? "" : paths.coco + ".partial.jsonl";
  f.jsonl_file = !paths.jsonl.empty() && paths.jsonl != "-";
  if (!paths.overlay_dir.empty()) f.overlays = overlay_paths(paths.overlay_dir, inputs);
  return f;
}

// Outputs that name an input, the input list or each other, and file outputs that are folders.
void check_output_names(const OutputPaths& paths, const PlannedFiles& f, const std::vector<InputFile>& inputs,
                        const std::string& input_list) {
  // Files this run writes, as flag -> path; none may be an input or another output.
  std::vector<std::pair<std::string, std::string>> files;
  if (!paths.coco.empty()) {
    files.emplace_back("--out", paths.coco);
    files.emplace_back("--out's journal", f.journal);
  }
  if (f.jsonl_file) files.emplace_back("--jsonl", paths.jsonl);
  if (!paths.out_dir.empty()) files.emplace_back("--out-dir", paths.out_dir);
  if (!paths.yolo.empty()) files.emplace_back("--yolo", paths.yolo);
  if (!paths.overlay_dir.empty() && paths.overlay_dir != paths.out_dir)
    files.emplace_back("--overlay-dir", paths.overlay_dir);
  for (const auto& [input, overlay] : f.overlays) files.emplace_back("the overlay of " + input, overlay);
  std::map<std::string, std::string> taken;  // canonical path -> flag
  for (const InputFile& in : inputs) taken.emplace(in.key.empty() ? canonical(in.path) : in.key, "an input");
  if (!input_list.empty()) taken.emplace(canonical(input_list), "--input-list");
  for (const auto& [flag, path] : files) {
    const auto [it, fresh] = taken.emplace(canonical(path), flag);
    if (!fresh)
      throw UsageError(flag + " '" + printable(path) + "' is also " +
                       (it->second == "an input" ? "an input" : it->second) +
                       ": writing it would destroy that; choose another output path");
  }
  // The same file under another name (a hard link): compare inodes, not paths.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::string>> existing;  // -> (flag, path)
  for (const auto& [flag, path] : files) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) existing.emplace(std::make_pair(st.st_dev, st.st_ino), std::make_pair(flag, path));
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
  if (!paths.coco.empty() && fs::is_directory(paths.coco, ec))
    throw UsageError("--out '" + printable(paths.coco) +
                     "' is a folder: give a file name (or use --out-dir for a folder)");
  if (f.jsonl_file && fs::is_directory(paths.jsonl, ec))
    throw UsageError("--jsonl '" + printable(paths.jsonl) +
                     "' is a folder: give a file name, or - for standard output");
}

// Outputs an earlier run left, refused unless resuming or overwriting.
void check_existing_outputs(const OutputPaths& paths, const PlannedFiles& f) {
  if (paths.resume || paths.overwrite) return;
  std::error_code ec;
  const std::string what_to_do = ": give --resume to continue the run that wrote it, or --overwrite to replace it";
  if (!paths.coco.empty() && non_empty(paths.coco))
    throw UsageError("--out '" + printable(paths.coco) + "' exists" + what_to_do);
  if (!f.journal.empty() && fs::exists(f.journal, ec))
    throw UsageError("'" + printable(f.journal) + "' holds an interrupted run's images: give --resume to continue it, "
                     "or --overwrite to start over");
  if (f.jsonl_file && non_empty(paths.jsonl))
    throw UsageError("--jsonl '" + printable(paths.jsonl) + "' exists" + what_to_do);
  if (!paths.out_dir.empty() && fs::exists(paths.out_dir + "/run.json", ec))
    throw UsageError("--out-dir '" + printable(paths.out_dir) + "' holds an earlier run's outputs" + what_to_do);
  if (!paths.yolo_manifest.empty() && non_empty(paths.yolo_manifest))
    throw UsageError("--yolo '" + printable(paths.yolo) + "' holds an earlier run's labels" + what_to_do);
  for (const auto& [input, overlay] : f.overlays)
    if (fs::exists(overlay, ec))
      throw UsageError("overlay '" + printable(overlay) + "' (of " + printable(input) + ") exists" + what_to_do);
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

}  // namespace

void check_outputs(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list) {
  const PlannedFiles f = planned_files(paths, inputs);
  check_output_names(paths, f, inputs, input_list);
  check_existing_outputs(paths, f);
  if (!paths.coco.empty()) {
    check_writable(paths.coco, "--out");
    check_writable(f.journal, "--out's journal");
  }
  if (f.jsonl_file) check_writable(paths.jsonl, "--jsonl");
  if (!paths.out_dir.empty()) check_writable(paths.out_dir, "--out-dir");
  if (!paths.yolo.empty()) check_writable(paths.yolo, "--yolo");
  if (!paths.overlay_dir.empty()) check_writable(paths.overlay_dir, "--overlay-dir");
  if (!paths.done_marker.empty()) check_writable(paths.done_marker, "the shard's done marker");
}

OutputGuard::OutputGuard(const OutputPaths& paths, const std::vector<InputFile>& inputs,
                         const std::string& input_list) {
  const PlannedFiles f = planned_files(paths, inputs);
  check_output_names(paths, f, inputs, input_list);

  // One run per output at a time. The lock comes before the checks of existing outputs, so a
  // run that finishes meanwhile cannot be overwritten unseen.
  std::error_code ec;
  if (!paths.coco.empty()) locks_.emplace_back(paths.coco + ".lock", paths.coco);
  if (f.jsonl_file) locks_.emplace_back(paths.jsonl + ".lock", paths.jsonl);
  auto create = [&](const std::string& dir) {
    if (fs::exists(dir, ec)) return;
    fs::create_directories(dir, ec);
    if (ec) throw OutputError(dir, ec.message());
    created_dirs_.push_back(dir);
  };
  for (const std::string& dir : {paths.out_dir, paths.yolo}) {
    if (dir.empty()) continue;
    create(dir);
    const std::string name = paths.shard ? shard_label(*paths.shard) + ".lock" : ".sam2amg.lock";
    locks_.emplace_back(dir + "/" + name, dir);
  }
  if (!paths.overlay_dir.empty()) {
    // Its own lock name: the overlay folder may be --out-dir, already locked above.
    create(paths.overlay_dir);
    const std::string name = paths.shard ? shard_label(*paths.shard) + ".overlays.lock" : ".sam2amg-overlays.lock";
    locks_.emplace_back(paths.overlay_dir + "/" + name, paths.overlay_dir);
  }
  check_existing_outputs(paths, f);
}

OutputGuard::~OutputGuard() {
  locks_.clear();
  std::error_code ec;
  // Only when still empty (nothing was written); the innermost first.
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec);
}

RunOutputs::RunOutputs(const OutputPaths& paths, OutputMode output_mode, SegmentationFormat format,
                       const OverlayStyle& overlay_style, const Provenance& provenance,
                       const std::vector<InputFile>& inputs)
    : paths_(paths), provenance_(provenance) {
  if (!paths_.coco.empty()) writers_.push_back(make_coco_writer(paths_.coco, format, provenance, paths_.resume));
  if (!paths_.out_dir.empty())
    writers_.push_back(
        // Shards share the folder and record each its own files and shard: only an unsharded
        // run compares run.json.
        // Overlays (also --overlay's, in --out-dir) come from the overlay writer.
        make_per_image_writer(paths_.out_dir, output_mode, format, /*overlay=*/false, provenance, inputs,
                              paths_.resume && !paths_.shard));
  if (!paths_.jsonl.empty()) writers_.push_back(make_jsonl_writer(paths_.jsonl, format, provenance, paths_.resume));
  if (!paths_.yolo.empty())
    writers_.push_back(make_yolo_writer(paths_.yolo, paths_.yolo_manifest, provenance, inputs, paths_.resume));
  if (!paths_.overlay_dir.empty()) writers_.push_back(make_overlay_writer(paths_.overlay_dir, inputs, overlay_style));
  // "<stem>/" or "<stem>.json" in --out-dir, "<stem>.overlay.png", "<name>.txt" in --yolo.
  if (!paths_.out_dir.empty()) longest_suffix_ = output_mode == OutputMode::kBinaryMask ? 0 : 5;
  stats_suffix_ = !paths_.out_dir.empty();
  if (!paths_.overlay_dir.empty()) longest_suffix_ = std::max<size_t>(longest_suffix_, 12);
  if (!paths_.yolo.empty()) longest_suffix_ = std::max<size_t>(longest_suffix_, 4);
  if (!paths_.out_dir.empty() || !paths_.overlay_dir.empty() || !paths_.yolo.empty()) stems_ = output_stems(inputs);
  // A folder removed or replaced mid-run must not be recreated silently with the earlier images gone.
  for (const std::string& dir : {paths_.out_dir, paths_.yolo, paths_.overlay_dir}) {
    struct stat st {};
    if (!dir.empty() && ::stat(dir.c_str(), &st) == 0) folders_.push_back({dir, st.st_dev, st.st_ino});
  }
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
  bool all_done = paths_.resume;
  for (const auto& w : writers_) all_done = all_done && w->done(input);
  return all_done;
}

void RunOutputs::write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) {
  check_folders();
  for (const auto& w : writers_)
    if (!paths_.resume || !w->done(info.input)) w->write(info, image, records);
}

void RunOutputs::finish(const RunEnd& end, const ShardSummary& summary) {
  check_folders();  // never "complete" in a folder that lost its images
  for (const auto& w : writers_) {
    w->set_run_end(end);
    w->finish(end.complete);
  }
  // Last: a shard whose marker exists is complete.
  if (end.complete && paths_.shard) commit_shard(paths_, provenance_, end, summary);
}

}  // namespace sam2amg
