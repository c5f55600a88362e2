// The per-image writer: SA-1B JSON or SAM 1 amg.py PNG folders, one per input, in --out-dir.
#include <opencv2/imgcodecs.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"
#include "io/amg_csv.h"
#include "io/json_files.h"
#include "io/overlay.h"
#include "io/records_json.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Output stems: the input name without extension; names that would collide keep their extension.
std::map<std::string, std::string> output_stems(const std::vector<InputFile>& inputs) {
  std::map<std::string, int> count;
  auto stem_of = [](const std::string& name) {
    const fs::path p(name);
    return (p.parent_path() / p.stem()).generic_string();
  };
  for (const InputFile& in : inputs) ++count[stem_of(in.name)];
  std::map<std::string, std::string> stems;
  std::set<std::string> used;
  for (const InputFile& in : inputs) {
    const std::string s = stem_of(in.name);
    std::string stem = count[s] > 1 ? in.name : s;
    // The same name from two folder inputs: number the later ones (input order is sorted).
    for (int k = 2; !used.insert(stem).second; ++k) stem = (count[s] > 1 ? in.name : s) + "~" + std::to_string(k);
    stems[in.path] = stem;
  }
  return stems;
}

class PerImageWriter : public MaskWriter {
 public:
  PerImageWriter(std::string dir, OutputMode output_mode, SegmentationFormat format, bool overlay,
                 const Provenance& provenance, const std::vector<InputFile>& inputs)
      : dir_(std::move(dir)), png_(output_mode == OutputMode::kBinaryMask), format_(format), overlay_(overlay),
        stems_(output_stems(inputs)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw OutputError(dir_, ec.message());
    write_file_atomically(dir_ + "/run.json", dump_json(provenance_json(provenance), 2) + "\n");
    for (size_t i = 0; i < inputs.size(); ++i) image_ids_[inputs[i].path] = static_cast<int64_t>(i) + 1;
  }

  bool done(const InputFile& input) const override {
    std::error_code ec;
    return fs::exists(target(input), ec);
  }

  void write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) override {
    const std::string target_path = target(info.input);
    fs::create_directories(fs::path(target_path).parent_path());
    // Extras first: the main output is the commit that resume looks for.
    if (overlay_) write_overlay(dir_ + "/" + stems_.at(info.input.path) + ".overlay.jpg", image, records);
    if (info.funnel)
      write_file_atomically(dir_ + "/" + stems_.at(info.input.path) + ".stats.json",
                       dump_json({{"file_name", info.input.name}, {"funnel", funnel_json(*info.funnel)}}) + "\n");
    if (png_) {
      write_png_folder(target_path, records);
    } else {
      const json doc{{"image",
                      {{"image_id", image_ids_.at(info.input.path)}, {"width", info.width}, {"height", info.height},
                       {"file_name", info.input.name}}},
                     {"annotations", sa1b_annotations(records, format_)}};
      write_file_atomically(target_path, dump_json(doc) + "\n");
    }
  }

  void finish(bool) override {}

 private:
  std::string target(const InputFile& input) const {
    return dir_ + "/" + stems_.at(input.path) + (png_ ? "" : ".json");
  }

  // SAM 1 scripts/amg.py write_masks_to_folder: i.png (mask * 255) and metadata.csv. Written into
  // a temporary folder renamed into place, so a folder that exists is complete.
  void write_png_folder(const std::string& folder, const std::vector<MaskRecord>& records) const {
    const std::string tmp = folder + ".tmp";
    std::error_code ec;
    fs::remove_all(tmp, ec);
    fs::create_directories(tmp);
    for (size_t i = 0; i < records.size(); ++i) {
      const MaskRecord& r = records[i];
      std::vector<std::uint8_t> mask = rle_to_mask(r.segmentation);
      for (auto& v : mask) v = v ? 255 : 0;
      const cv::Mat m(r.segmentation.h, r.segmentation.w, CV_8UC1, mask.data());
      const std::string png = tmp + "/" + std::to_string(i) + ".png";
      if (!cv::imwrite(png, m)) throw OutputError(png, "PNG encoding failed");
    }
    std::ofstream meta(tmp + "/metadata.csv", std::ios::binary);
    meta << amg_metadata_csv(records);
    meta.flush();
    if (!meta) throw OutputError(tmp + "/metadata.csv", "write failed (disk full?)");
    fs::remove_all(folder, ec);
    fs::rename(tmp, folder, ec);
    if (ec) throw OutputError(folder, ec.message());
  }

  std::string dir_;
  bool png_;
  SegmentationFormat format_;
  bool overlay_;
  std::map<std::string, std::string> stems_;
  std::map<std::string, int64_t> image_ids_;
};

}  // namespace

std::unique_ptr<MaskWriter> make_per_image_writer(const std::string& dir, OutputMode output_mode,
                                                  SegmentationFormat format, bool overlay,
                                                  const Provenance& provenance, const std::vector<InputFile>& inputs) {
  return std::make_unique<PerImageWriter>(dir, output_mode, format, overlay, provenance, inputs);
}

}  // namespace sam2amg
