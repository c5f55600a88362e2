// The YOLO segmentation writer: one label file per image, as Ultralytics reads them.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>
#include <set>

#include "common/error.h"
#include "common/printable.h"
#include "io/input_identity.h"
#include "io/json_files.h"
#include "io/polygons.h"
#include "io/provenance.h"
#include "io/run_lines.h"
#include "io/safe_files.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

// Ultralytics finds an image's labels at its path with images/ -> labels/ and the extension
// -> .txt: the label of input name "sub/x.jpg" is "sub/x.txt". Two inputs with one label name
// (x.png and x.jpg, or x.png from two folder inputs) cannot both be read: refused.
std::map<std::string, std::string> yolo_label_names(const std::vector<InputFile>& inputs) {
  std::map<std::string, std::string> names;
  std::map<std::string, std::string> owner;  // label -> input path
  for (const InputFile& in : inputs) {
    const fs::path p(in.name);
    const std::string label = safe_relative_name((p.parent_path() / p.stem()).generic_string()) + ".txt";
    const auto [it, fresh] = owner.emplace(label, in.path);
    if (!fresh && it->second != in.path)
      throw UsageError("--yolo: '" + printable(it->second) + "' and '" + printable(in.path) +
                       "' would share the label file '" + printable(label) +
                       "' (YOLO finds labels by name without extension); rename one, or run them separately");
    names[in.path] = label;
  }
  return names;
}

namespace {

// One line per mask: class 0, then the mask's ring as normalised x y pairs (pixel centres / size,
// six decimals, as Ultralytics' own converters write them).
std::string label_text(const std::vector<MaskRecord>& records, int width, int height) {
  std::string text;
  char buf[32];
  for (const MaskRecord& r : records) {
    const std::vector<double> ring = rle_to_single_ring(r.segmentation);
    if (ring.size() < 6) continue;  // an empty mask
    text += "0";
    for (size_t i = 0; i + 1 < ring.size(); i += 2) {
      const double x = std::clamp(ring[i] / width, 0.0, 1.0), y = std::clamp(ring[i + 1] / height, 0.0, 1.0);
      std::snprintf(buf, sizeof buf, " %.6f %.6f", x, y);
      text += buf;
    }
    text += "\n";
  }
  return text;
}

class YoloWriter : public MaskWriter {
 public:
  YoloWriter(std::string dir, const std::string& manifest, const Provenance& provenance,
             const std::vector<InputFile>& inputs, bool resume)
      : dir_(std::move(dir)), manifest_path_(manifest), provenance_(provenance), labels_(yolo_label_names(inputs)),
        manifest_(manifest, provenance) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw OutputError(dir_, ec.message());
    // The labels cannot hold provenance (every line is read as numbers): the manifest does, one
    // line per label written, after it.
    manifest_.append = resume && resume_run_lines(
                               manifest_path_, provenance_, "'" + printable(manifest_path_) + "'",
                               [&](const std::string& key, const json&) { done_.insert(key), recorded_.insert(key); },
                               [&](const std::string& key) { recorded_.insert(key); });
  }

  // Resuming: a label that exists but that the manifest never recorded was not written by this
  // output's runs (ground truth, another tool's): refused, never replaced (exit 2, before any work).
  bool done(const InputFile& input) const override {
    const auto label = labels_.find(input.path);
    if (label == labels_.end()) return false;  // not one of the run's inputs
    std::error_code ec;
    const std::string path = path_inside(dir_, label->second);
    const bool exists = fs::exists(fs::symlink_status(path, ec));
    if (exists && !recorded_.count(input_key(input)))
      throw UsageError("--yolo: '" + printable(path) + "' exists, and '" + printable(manifest_path_) +
                       "' does not record writing it (a label sam2-amg did not write?): move it away, or give "
                       "--overwrite to replace it");
    return exists && done_.count(input_key(input)) > 0;
  }

  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    const std::string& label = labels_.at(info.input.path);
    const std::string path = path_inside(dir_, label);
    make_folders_inside(dir_, fs::path(path).parent_path().string());  // never through a link
    // The manifest line first: a label on disk is always one the manifest records (resume
    // refuses any other), and a line without its label is only written again.
    manifest_.get().write({{"type", "image"},
                      {"image", {{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width},
                                 {"height", info.height}, {"label", label}}},
                      {"sam2_amg", image_provenance_json(provenance_, info.input)},
                      {"input", input_identity_json(info.input)}});
    recorded_.insert(input_key(info.input));
    write_file_atomically(path, label_text(records, info.width, info.height));
    done_.insert(input_key(info.input));
  }

  void finish(bool) override { manifest_.get().close(); }

 private:
  std::string dir_;
  std::string manifest_path_;
  Provenance provenance_;
  std::map<std::string, std::string> labels_;
  RunLinesFile manifest_;  ///< opened with the first label (or at finish())
  std::set<std::string> done_;
  std::set<std::string> recorded_;  ///< every input the manifest records a label of (done or rewritten since)
};

}  // namespace

std::string yolo_manifest_path(const std::string& dir, const std::string& shard_label) {
  return dir + "/sam2_amg" + (shard_label.empty() ? "" : "." + shard_label) + ".jsonl";
}

std::unique_ptr<MaskWriter> make_yolo_writer(const std::string& dir, const std::string& manifest,
                                             const Provenance& provenance, const std::vector<InputFile>& inputs,
                                             bool resume) {
  return std::make_unique<YoloWriter>(dir, manifest, provenance, inputs, resume);
}

}  // namespace sam2amg
