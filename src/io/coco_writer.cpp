#include "io/coco_writer.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/error.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

nlohmann::json segmentation_json(const Rle& rle, bool compressed) {
  nlohmann::json seg;
  seg["size"] = {rle.h, rle.w};
  if (compressed)
    seg["counts"] = rle_to_string(rle);
  else
    seg["counts"] = rle.counts;
  return seg;
}

void write_all(std::FILE* f, const std::string& s, const std::string& path) {
  if (std::fwrite(s.data(), 1, s.size(), f) != s.size()) throw OutputError(path, std::strerror(errno));
}

}  // namespace

CocoWriter::CocoWriter(std::string path, CocoWriterOptions options)
    : path_(std::move(path)), options_(std::move(options)) {
  ann_tmp_path_ = path_ + ".annotations.tmp";
  ann_ = std::fopen(ann_tmp_path_.c_str(), "wb");
  if (!ann_) throw OutputError(ann_tmp_path_, std::strerror(errno));
}

CocoWriter::~CocoWriter() {
  if (closed_) return;
  try {
    close();
  } catch (...) {
    if (ann_) std::fclose(ann_);
    std::error_code ec;
    fs::remove(ann_tmp_path_, ec);
  }
}

void CocoWriter::add_image(const std::string& file_name, int width, int height,
                           const std::vector<MaskRecord>& records) {
  const int64_t image_id = next_image_id_++;
  nlohmann::json img{{"id", image_id}, {"file_name", file_name}, {"width", width}, {"height", height}};
  if (!images_json_.empty()) images_json_ += ",\n";
  images_json_ += img.dump();

  const bool compressed = options_.output_mode != "uncompressed_rle";
  std::string chunk;
  for (const MaskRecord& r : records) {
    const auto bbox = rle_to_coco_bbox(r.segmentation);
    nlohmann::json ann{
        {"id", next_annotation_id_},
        {"image_id", image_id},
        {"category_id", 1},
        {"segmentation", segmentation_json(r.segmentation, compressed)},
        {"area", r.area},
        {"bbox", bbox},
        {"iscrowd", 0},
        {"score", double(r.predicted_iou)},
        {"predicted_iou", double(r.predicted_iou)},
        {"stability_score", double(r.stability_score)},
        {"point_coords", {{double(r.point_coords[0]), double(r.point_coords[1])}}},
        {"crop_box", {r.crop_box_xywh[0], r.crop_box_xywh[1], r.crop_box_xywh[2], r.crop_box_xywh[3]}},
        {"bbox_xywh_ref", {r.bbox_xywh[0], r.bbox_xywh[1], r.bbox_xywh[2], r.bbox_xywh[3]}},
    };
    chunk += (next_annotation_id_ == 1 ? "" : ",\n");
    chunk += ann.dump();
    ++next_annotation_id_;
  }
  write_all(ann_, chunk, ann_tmp_path_);
}

void CocoWriter::close() {
  if (closed_) return;
  closed_ = true;
  if (std::fflush(ann_) != 0) throw OutputError(ann_tmp_path_, std::strerror(errno));
  std::fclose(ann_);
  ann_ = nullptr;

  const std::string tmp = path_ + ".tmp";
  std::FILE* out = std::fopen(tmp.c_str(), "wb");
  if (!out) throw OutputError(tmp, std::strerror(errno));
  try {
    nlohmann::json info{{"description", options_.description}, {"version", "1.0"}, {"contributor", "sam2-amg"}};
    nlohmann::json categories = nlohmann::json::array({{{"id", 1}, {"name", "object"}, {"supercategory", "object"}}});
    write_all(out, "{\"info\": " + info.dump() + ",\n\"licenses\": [],\n\"categories\": " + categories.dump() +
                       ",\n\"images\": [\n" + images_json_ + "\n],\n\"annotations\": [\n", tmp);
    std::FILE* ann = std::fopen(ann_tmp_path_.c_str(), "rb");
    if (!ann) throw OutputError(ann_tmp_path_, std::strerror(errno));
    char buf[1 << 16];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, ann)) > 0) write_all(out, std::string(buf, n), tmp);
    std::fclose(ann);
    write_all(out, "\n]}\n", tmp);
    if (std::fflush(out) != 0) throw OutputError(tmp, std::strerror(errno));
    std::fclose(out);
    out = nullptr;
    std::error_code ec;
    fs::rename(tmp, path_, ec);
    if (ec) throw OutputError(path_, ec.message());
    fs::remove(ann_tmp_path_, ec);
  } catch (...) {
    if (out) std::fclose(out);
    std::error_code ec;
    fs::remove(tmp, ec);
    fs::remove(ann_tmp_path_, ec);
    throw;
  }
}

}  // namespace sam2amg
