// The writers a run opens on its outputs table, and what they share: which inputs are done, the
// per-image names' length, the folder outputs staying the ones opened, the shard's commit.
#include <limits.h>
#include <sys/stat.h>

#include <algorithm>

#include "common/error.h"
#include "common/printable.h"
#include "io/outputs.h"

namespace sam2amg {

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
