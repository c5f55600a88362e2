// The per-image writer: SA-1B JSON or SAM 1 amg.py PNG folders, one per input, in --out-dir.
#include <opencv2/imgcodecs.hpp>

#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/error.h"
#include "io/amg_csv.h"
#include "io/input_identity.h"
#include "io/json_files.h"
#include "io/overlay.h"
#include "io/provenance.h"
#include "io/records_json.h"
#include "io/safe_files.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A mask folder's record of its image (image_provenance_json), beside amg.py's files.
constexpr const char* kFolderProvenance = "sam2_amg.json";

// What write_png_folder puts in a folder: "<i>.png", "metadata.csv" and the provenance.
bool is_png_folder_entry(const std::string& name) {
  if (name == "metadata.csv" || name == kFolderProvenance) return true;
  const size_t dot = name.find('.');
  if (dot == 0 || dot == std::string::npos || name.substr(dot) != ".png") return false;
  for (size_t i = 0; i < dot; ++i)
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

// A folder this process created, holding only the files named through file(); removed with
// them unless release()d. One unlink per file, never a recursive removal: a CUDA LibTorch may
// carry its own std::filesystem (pytorch/pytorch#133437), and the folder's content is known.
class OwnFolder {
 public:
  explicit OwnFolder(const fs::path& parent) {
    for (;;) {
      path_ = temporary_name_beside((parent / "mask-folder").string());  // tagged: a killed run's is removed
      std::error_code ec;
      if (fs::create_directory(path_, ec)) return;  // false: it exists, not ours; try the next name
      if (ec) throw OutputError(path_.string(), ec.message());
    }
  }
  ~OwnFolder() {
    if (path_.empty()) return;
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());  // fails, leaving it, only if something else wrote into it
  }
  OwnFolder(const OwnFolder&) = delete;
  OwnFolder& operator=(const OwnFolder&) = delete;
  /// The path of `name` inside the folder, removed with it.
  std::string file(const std::string& name) {
    files_.push_back((path_ / name).string());
    return files_.back();
  }
  const fs::path& path() const { return path_; }
  void release() { path_.clear(); }

 private:
  fs::path path_;
  std::vector<std::string> files_;
};

class PerImageWriter : public MaskWriter {
 public:
  PerImageWriter(std::string dir, OutputMode output_mode, SegmentationFormat format, bool overlay,
                 const Provenance& provenance, const std::vector<InputFile>& inputs, bool resume)
      : dir_(std::move(dir)), png_(output_mode == OutputMode::kBinaryMask), format_(format), overlay_(overlay),
        provenance_(provenance), stems_(output_stems(inputs)), run_(provenance_json(provenance)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw OutputError(dir_, ec.message());
    const std::string run_json = per_image_run_record_path(dir_);
    // Resuming continues the same run: per-image files of another model or config stay apart;
    // settings that cannot change the masks may differ.
    if (resume) accepted_config_ = check_per_image_resumable(dir_, provenance_);
    for (size_t i = 0; i < inputs.size(); ++i) image_ids_[inputs[i].path] = static_cast<int64_t>(i) + 1;
  }

  // An existing output counts only when it records this run and this input: names of colliding
  // inputs shift when the input set grows, and shards share the folder.
  bool done(const InputFile& input) const override {
    const std::string path = target(input);
    std::error_code ec;
    if (!fs::exists(path, ec)) return false;
    const json head = recorded_head(path);
    return image_output_matches(head.is_object() ? head.value("sam2_amg", json()) : json(),
                                head.is_object() ? head.value("input", json()) : json(), provenance_, input, path,
                                accepted_config_);
  }

  void write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) override {
    // run.json comes with the first image (a run that fails before any leaves nothing), and is
    // rewritten at finish() with how the run ended.
    if (!run_json_written_) write_run_json(run_);
    const std::string target_path = target(info.input);
    make_folders_inside(dir_, fs::path(target_path).parent_path().string());  // never through a link
    // Extras first: the main output is the commit that resume looks for.
    const std::string& stem = stems_.at(info.input.path);
    if (overlay_) write_overlay(path_inside(dir_, stem + ".overlay.jpg"), image, records, OverlayStyle{false, png_ ? 0 : 1});
    if (info.funnel)
      write_file_atomically(path_inside(dir_, stem + ".stats.json"),
                       dump_json({{"file_name", info.input.name}, {"funnel", funnel_json(*info.funnel)}}) + "\n");
    const json provenance = image_provenance_json(provenance_, info.input);
    const json identity = input_identity_json(info.input);
    if (png_) {
      write_png_folder(target_path, records, {{"sam2_amg", provenance}, {"input", identity}});
    } else {
      // SA-1B's {"image", "annotations"}, with the provenance first and alone on the first line,
      // so that resuming reads one line, not the masks.
      const json image{{"image_id", image_ids_.at(info.input.path)}, {"width", info.width}, {"height", info.height},
                       {"file_name", info.input.name}};
      write_file_atomically(target_path, "{\"sam2_amg\": " + dump_json(provenance) + ", \"input\": " +
                                             dump_json(identity) + ",\n\"image\": " +
                                             dump_json(image) + ", \"annotations\": " +
                                             dump_json(sa1b_annotations(records, format_)) + "}\n");
    }
  }

  void set_run_end(const RunEnd& end) override { run_end_ = end; }

  void finish(bool) override {
    json run = run_;
    run["run"] = run_end_json(run_end_);
    write_run_json(run);
  }

 private:
  void write_run_json(const json& run) {
    write_file_atomically(per_image_run_record_path(dir_), dump_json(run, 2) + "\n");
    run_json_written_ = true;
  }

  std::string target(const InputFile& input) const {
    return path_inside(dir_, stems_.at(input.path) + (png_ ? "" : ".json"));
  }

  // What an output records about its image on its first line ({"sam2_amg": ..., "input": ...});
  // null when it records nothing.
  json recorded_head(const std::string& path) const {
    std::ifstream in(png_ ? path + "/" + kFolderProvenance : path, std::ios::binary);
    std::string line;
    if (!in || !std::getline(in, line)) return nullptr;
    if (png_) {
      const json file = json::parse(line, nullptr, false);
      return file.is_object() ? file : json();
    }
    // `{"sam2_amg": {...}, "input": {...},` alone on the first line: close the object to read it.
    if (line.empty() || line.back() != ',') return nullptr;
    line.back() = '}';
    const json head = json::parse(line, nullptr, false);
    return head.is_object() ? head : json();
  }

  // SAM 1 scripts/amg.py write_masks_to_folder: i.png (mask * 255) and metadata.csv, plus the
  // image's provenance (sam2_amg.json), which resume reads. Written into
  // a temporary folder this process creates, then renamed into place, so a folder that exists is
  // complete. Nothing is deleted recursively but that temporary folder: an existing folder (an
  // earlier run's, with --overwrite) is replaced only when it holds nothing but such files.
  void write_png_folder(const std::string& folder, const std::vector<MaskRecord>& records, const json& head) const {
    OwnFolder own(fs::path(folder).parent_path());
    const std::string tmp = own.path().string();
    std::error_code ec;
    for (size_t i = 0; i < records.size(); ++i) {
      const MaskRecord& r = records[i];
      std::vector<std::uint8_t> mask = rle_to_mask(r.segmentation);
      for (auto& v : mask) v = v ? 255 : 0;
      const cv::Mat m(r.segmentation.h, r.segmentation.w, CV_8UC1, mask.data());
      const std::string png = own.file(std::to_string(i) + ".png");
      if (!cv::imwrite(png, m)) throw OutputError(png, "PNG encoding failed");
    }
    const std::string meta_path = own.file("metadata.csv");
    std::ofstream meta(meta_path, std::ios::binary);
    meta << amg_metadata_csv(records);
    meta.flush();
    if (!meta) throw OutputError(meta_path, "write failed (disk full?)");
    meta.close();
    write_file_atomically(own.file(kFolderProvenance), dump_json(head) + "\n");
    const fs::file_status st = fs::symlink_status(folder, ec);
    if (fs::exists(st)) {
      if (!fs::is_directory(st)) throw OutputError(folder, "exists and is not a folder of masks; move it away");
      std::vector<fs::path> ours;
      for (const auto& e : fs::directory_iterator(folder, ec)) {
        if (!is_png_folder_entry(e.path().filename().string()) || !e.is_regular_file())
          throw OutputError(folder, "exists and holds '" + printable(e.path().filename().string()) +
                                        "', which sam2-amg did not write; move the folder away");
        ours.push_back(e.path());
      }
      if (ec) throw OutputError(folder, ec.message());
      for (const fs::path& f : ours) fs::remove(f, ec);  // one file at a time, never recursive
      if (!fs::remove(folder, ec) || ec) throw OutputError(folder, "cannot replace: " + ec.message());
    }
    fs::rename(tmp, folder, ec);
    if (ec) throw OutputError(folder, ec.message());
    own.release();
  }

  std::string dir_;
  bool png_;
  SegmentationFormat format_;
  bool overlay_;
  Provenance provenance_;
  std::map<std::string, std::string> stems_;
  std::map<std::string, int64_t> image_ids_;
  json run_;  ///< the run's provenance (run.json)
  RunEnd run_end_;
  bool run_json_written_ = false;
  std::string accepted_config_;  ///< an equivalent earlier run's config_sha256 (resume)
};

}  // namespace

std::string per_image_run_record_path(const std::string& dir) { return dir + "/run.json"; }

std::string check_per_image_resumable(const std::string& dir, const Provenance& provenance) {
  const std::string run_json = per_image_run_record_path(dir);
  std::error_code ec;
  if (!fs::exists(run_json, ec)) return "";
  std::ifstream in(run_json);
  const json earlier = json::parse(in, nullptr, false);
  return check_resumable(earlier.is_discarded() ? json() : earlier, provenance, "--out-dir '" + printable(dir) + "'");
}

std::unique_ptr<MaskWriter> make_per_image_writer(const std::string& dir, OutputMode output_mode,
                                                  SegmentationFormat format, bool overlay,
                                                  const Provenance& provenance, const std::vector<InputFile>& inputs,
                                                  bool resume) {
  return std::make_unique<PerImageWriter>(dir, output_mode, format, overlay, provenance, inputs, resume);
}

}  // namespace sam2amg
