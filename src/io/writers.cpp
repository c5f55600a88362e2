#include "io/writers.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <nlohmann/json.hpp>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/error.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Writes `data` to `path` through a temporary file and a rename, so readers never see half a file.
void write_atomically(const std::string& path, const std::string& data) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw OutputError(tmp, std::strerror(errno));
    out << data;
    out.flush();
    if (!out) throw OutputError(tmp, "write failed (disk full?)");
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw OutputError(path, ec.message());
}

// Resuming a JSON-lines file: reads lines from `in`'s position while `accept` takes them, then
// cuts the file after the last accepted line (a torn or foreign tail is dropped) in place.
template <typename Accept>
void keep_complete_lines(std::ifstream& in, const std::string& path, Accept&& accept) {
  std::uintmax_t good = static_cast<std::uintmax_t>(in.tellg());
  for (std::string s; std::getline(in, s);) {
    if (in.eof()) break;  // no newline: a torn line
    const json line = json::parse(s, nullptr, false);
    if (line.is_discarded() || !accept(line)) break;
    good = static_cast<std::uintmax_t>(in.tellg());
  }
  in.close();
  std::error_code ec;
  fs::resize_file(path, good, ec);
  if (ec) throw OutputError(path, ec.message());
}

json provenance_json(const Provenance& p) {
  return {{"tool", "sam2-amg"}, {"version", p.tool_version}, {"model", p.model_path},
          {"model_sha256", p.model_sha256}, {"exif", p.exif}, {"config", p.config_yaml}};
}

json segmentation_json(const Rle& rle, SegmentationFormat format) {
  switch (format) {
    case SegmentationFormat::kUncompressedRle:
      return {{"size", {rle.h, rle.w}}, {"counts", rle.counts}};
    case SegmentationFormat::kPolygon:
      return rle_to_polygons(rle);
    case SegmentationFormat::kCompressedRle:
      break;
  }
  return {{"size", {rle.h, rle.w}}, {"counts", rle_to_string(rle)}};
}

json funnel_json(const FilterFunnel& f) {
  json j = json::object();
  for (const auto& [name, count] : funnel_stages(f)) j[name] = count;
  return j;
}

json xywh(const std::array<float, 4>& b) { return {double(b[0]), double(b[1]), double(b[2]), double(b[3])}; }

// The reference's record fields (SA-1B / SAM 1 JSON names).
json sa1b_annotation(const MaskRecord& r, int64_t id, SegmentationFormat format) {
  return {{"id", id},
          {"segmentation", segmentation_json(r.segmentation, format)},
          {"bbox", xywh(r.bbox_xywh)},
          {"area", r.area},
          {"predicted_iou", double(r.predicted_iou)},
          {"stability_score", double(r.stability_score)},
          {"crop_box", xywh(r.crop_box_xywh)},
          {"point_coords", {{double(r.point_coords[0]), double(r.point_coords[1])}}}};
}

// An image's records as SA-1B annotations, ids from 1.
json sa1b_annotations(const std::vector<MaskRecord>& records, SegmentationFormat format) {
  json anns = json::array();
  for (size_t i = 0; i < records.size(); ++i) anns.push_back(sa1b_annotation(records[i], int64_t(i) + 1, format));
  return anns;
}

json coco_annotation(const MaskRecord& r, int64_t id, int64_t image_id, SegmentationFormat format) {
  const auto bbox = rle_to_coco_bbox(r.segmentation);
  return {{"id", id},
          {"image_id", image_id},
          {"category_id", 1},
          {"segmentation", segmentation_json(r.segmentation, format)},
          {"area", r.area},
          {"bbox", bbox},
          {"iscrowd", format == SegmentationFormat::kUncompressedRle ? 1 : 0},
          {"score", double(r.predicted_iou)},
          {"predicted_iou", double(r.predicted_iou)},
          {"stability_score", double(r.stability_score)},
          {"point_coords", {{double(r.point_coords[0]), double(r.point_coords[1])}}},
          {"crop_box", xywh(r.crop_box_xywh)},
          {"bbox_xywh_ref", xywh(r.bbox_xywh)}};
}

class CocoWriter : public MaskWriter {
 public:
  CocoWriter(std::string path, SegmentationFormat format, Provenance provenance, bool resume)
      : path_(std::move(path)), journal_path_(path_ + ".partial.jsonl"), format_(format),
        provenance_(std::move(provenance)) {
    // The journal's first line names the run (model and effective config); resuming another
    // run's journal would mix outputs.
    run_id_ = provenance_.model_sha256 + ":" + std::to_string(std::hash<std::string>{}(provenance_.config_yaml)) + ":" +
              std::to_string(static_cast<int>(format_));
    const bool appending = resume && load_journal();
    journal_ = std::fopen(journal_path_.c_str(), appending ? "ab" : "wb");
    if (!journal_) throw OutputError(journal_path_, std::strerror(errno));
    if (!appending) {
      const std::string header = json{{"sam2_amg_journal", run_id_}}.dump() + "\n";
      if (std::fwrite(header.data(), 1, header.size(), journal_) != header.size() || std::fflush(journal_) != 0)
        throw OutputError(journal_path_, std::strerror(errno));
    }
  }
  ~CocoWriter() override {
    if (journal_) std::fclose(journal_);
  }

  bool done(const InputFile& input) const override { return done_.count(input.path) > 0; }

  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    // One self-contained line per image; ids are assigned when the file is assembled.
    json anns = json::array();
    for (const MaskRecord& r : records) anns.push_back(coco_annotation(r, 0, 0, format_));
    json image{{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}};
    if (info.funnel) image["funnel"] = funnel_json(*info.funnel);
    const json line{{"path", info.input.path}, {"image", std::move(image)}, {"annotations", std::move(anns)}};
    const std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (std::fwrite(s.data(), 1, s.size(), journal_) != s.size() || std::fflush(journal_) != 0)
      throw OutputError(journal_path_, std::strerror(errno));
    done_.insert(info.input.path);
  }

  void finish(bool complete) override {
    std::fclose(journal_);
    journal_ = nullptr;
    const std::string tmp = path_ + ".tmp";
    std::FILE* out = std::fopen(tmp.c_str(), "wb");
    if (!out) throw OutputError(tmp, std::strerror(errno));
    auto put = [&](const std::string& s) {
      if (std::fwrite(s.data(), 1, s.size(), out) != s.size()) throw OutputError(tmp, std::strerror(errno));
    };
    json info{{"description", "automatic masks from sam2-amg"}, {"version", provenance_.tool_version},
              {"sam2_amg", provenance_json(provenance_)}};
    put("{\"info\": " + info.dump(-1, ' ', false, json::error_handler_t::replace) + ",\n\"licenses\": [],\n\"categories\": " +
        json::array({{{"id", 1}, {"name", "object"}, {"supercategory", "object"}}}).dump(-1, ' ', false, json::error_handler_t::replace) + ",\n\"images\": [");
    // Two passes over the journal: images, then annotations, renumbered from 1 in journal order.
    int64_t image_id = 0;
    for_each_journal_line([&](json& line) {
      json image = line["image"];
      image["id"] = ++image_id;
      put((image_id == 1 ? "\n" : ",\n") + image.dump(-1, ' ', false, json::error_handler_t::replace));
    });
    put("\n],\n\"annotations\": [");
    int64_t ann_id = 0;
    image_id = 0;
    for_each_journal_line([&](json& line) {
      ++image_id;
      for (json& a : line["annotations"]) {
        a["id"] = ++ann_id;
        a["image_id"] = image_id;
        put((ann_id == 1 ? "\n" : ",\n") + a.dump(-1, ' ', false, json::error_handler_t::replace));
      }
    });
    put("\n]}\n");
    if (std::fflush(out) != 0) throw OutputError(tmp, std::strerror(errno));
    std::fclose(out);
    std::error_code ec;
    fs::rename(tmp, path_, ec);
    if (ec) throw OutputError(path_, ec.message());
    if (complete) fs::remove(journal_path_, ec);
  }

 private:
  template <typename F>
  void for_each_journal_line(F&& f) const {
    std::ifstream in(journal_path_);
    for (std::string s; std::getline(in, s);) {
      json line = json::parse(s, nullptr, /*allow_exceptions=*/false);
      if (!line.is_discarded() && line.contains("image")) f(line);
    }
  }

  // Resumes an interrupted run's journal: checks it is this run's, keeps its complete lines and
  // cuts a torn last line off in place. False when there is no journal to resume.
  bool load_journal() {
    std::ifstream in(journal_path_, std::ios::binary);
    if (!in) return false;
    std::string s;
    if (!std::getline(in, s)) return false;
    const json header = json::parse(s, nullptr, false);
    if (header.is_discarded() || header.value("sam2_amg_journal", std::string()) != run_id_)
      throw UsageError(journal_path_ + " belongs to a run with another model, config or inputs; delete it, or rerun "
                                       "without --resume to start over");
    keep_complete_lines(in, journal_path_, [&](const json& line) {
      if (!line.contains("path")) return false;
      done_.insert(line["path"].get<std::string>());
      return true;
    });
    return true;
  }

  std::string path_;
  std::string journal_path_;
  SegmentationFormat format_;
  Provenance provenance_;
  std::FILE* journal_ = nullptr;
  std::set<std::string> done_;
  std::string run_id_;
};

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
  PerImageWriter(std::string dir, std::string output_mode, SegmentationFormat format, bool overlay,
                 const Provenance& provenance, const std::vector<InputFile>& inputs)
      : dir_(std::move(dir)), png_(output_mode == "binary_mask"), format_(format), overlay_(overlay),
        stems_(output_stems(inputs)) {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw OutputError(dir_, ec.message());
    write_atomically(dir_ + "/run.json", provenance_json(provenance).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
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
      write_atomically(dir_ + "/" + stems_.at(info.input.path) + ".stats.json",
                       json{{"file_name", info.input.name}, {"funnel", funnel_json(*info.funnel)}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
    if (png_) {
      write_png_folder(target_path, records);
    } else {
      json anns = sa1b_annotations(records, format_);
      const json doc{{"image",
                      {{"image_id", image_ids_.at(info.input.path)}, {"width", info.width}, {"height", info.height},
                       {"file_name", info.input.name}}},
                     {"annotations", std::move(anns)}};
      write_atomically(target_path, doc.dump(-1, ' ', false, json::error_handler_t::replace) + "\n");
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
    std::string csv = kAmgCsvHeader;
    for (size_t i = 0; i < records.size(); ++i) {
      const MaskRecord& r = records[i];
      std::vector<std::uint8_t> mask = rle_to_mask(r.segmentation);
      for (auto& v : mask) v = v ? 255 : 0;
      const cv::Mat m(r.segmentation.h, r.segmentation.w, CV_8UC1, mask.data());
      const std::string png = tmp + "/" + std::to_string(i) + ".png";
      if (!cv::imwrite(png, m)) throw OutputError(png, "PNG encoding failed");
      csv += "\n" + std::to_string(i) + "," + std::to_string(r.area);
      for (float v : r.bbox_xywh) csv += "," + python_float_str(v);
      for (float v : r.point_coords) csv += "," + python_float_str(v);
      csv += "," + python_float_str(r.predicted_iou) + "," + python_float_str(r.stability_score);
      for (float v : r.crop_box_xywh) csv += "," + python_float_str(v);
    }
    std::ofstream meta(tmp + "/metadata.csv", std::ios::binary);
    meta << csv;  // amg.py writes no final newline
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

class JsonlWriter : public MaskWriter {
 public:
  JsonlWriter(const std::string& path, SegmentationFormat format, const Provenance& provenance, bool resume)
      : path_(path), format_(format), provenance_(provenance_json(provenance)) {
    if (resume && path != "-") load_existing();
    out_ = path == "-" ? stdout : std::fopen(path.c_str(), resume ? "ab" : "wb");
    if (!out_) throw OutputError(path, std::strerror(errno));
  }
  ~JsonlWriter() override {
    if (out_ && out_ != stdout) std::fclose(out_);
  }
  bool done(const InputFile& input) const override { return done_.count(input.path) > 0; }
  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    json anns = sa1b_annotations(records, format_);
    json line{
        {"image", {{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}}},
        {"annotations", std::move(anns)},
        {"sam2_amg", provenance_}};
    if (info.funnel) line["funnel"] = funnel_json(*info.funnel);
    const std::string s = line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
    if (std::fwrite(s.data(), 1, s.size(), out_) != s.size() || std::fflush(out_) != 0)
      throw OutputError(path_, std::strerror(errno));
  }
  void finish(bool) override {}

 private:
  // Keeps the complete lines of an interrupted run's file; a torn last line is cut off.
  void load_existing() {
    std::ifstream in(path_, std::ios::binary);
    if (!in) return;
    keep_complete_lines(in, path_, [&](const json& line) {
      if (!line.contains("image")) return false;
      done_.insert(line["image"]["path"].get<std::string>());
      return true;
    });
  }

  std::string path_;
  SegmentationFormat format_;
  json provenance_;
  std::FILE* out_ = nullptr;
  std::set<std::string> done_;
};

}  // namespace

void write_overlay(const std::string& path, const ImageU8& image, const std::vector<MaskRecord>& records) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
  cv::Mat out;
  cv::cvtColor(rgb, out, cv::COLOR_RGB2BGR);
  // Largest masks first so small ones stay visible; colours from a fixed hash of the index.
  std::vector<size_t> order(records.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return records[a].area > records[b].area; });
  for (size_t k = 0; k < order.size(); ++k) {
    const MaskRecord& r = records[order[k]];
    const std::vector<std::uint8_t> mask = rle_to_mask(r.segmentation);
    const std::uint32_t hsh = static_cast<std::uint32_t>(order[k] + 1) * 2654435761u;
    const cv::Vec3b colour(hsh & 0xff, (hsh >> 8) & 0xff, (hsh >> 16) & 0xff);
    for (int y = 0; y < image.height; ++y) {
      cv::Vec3b* row = out.ptr<cv::Vec3b>(y);
      for (int x = 0; x < image.width; ++x)
        if (mask[size_t(y) * image.width + x])
          for (int c = 0; c < 3; ++c) row[x][c] = static_cast<std::uint8_t>((row[x][c] + colour[c]) / 2);
    }
  }
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(".jpg", out, buf)) throw OutputError(path, "JPEG encoding failed");
  write_atomically(path, std::string(buf.begin(), buf.end()));
}

std::vector<std::pair<const char*, std::int64_t>> funnel_stages(const FilterFunnel& f) {
  return {{"candidates", f.candidates},         {"after_pred_iou", f.after_pred_iou},
          {"after_stability", f.after_stability}, {"after_crop_edge", f.after_crop_edge},
          {"after_box_nms", f.after_box_nms},     {"after_crop_nms", f.after_crop_nms},
          {"final", f.final_masks}};
}

SegmentationFormat segmentation_format(const std::string& output_mode, bool polygons) {
  if (polygons) return SegmentationFormat::kPolygon;
  return output_mode == "uncompressed_rle" ? SegmentationFormat::kUncompressedRle : SegmentationFormat::kCompressedRle;
}

std::string python_float_str(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const double a = std::fabs(v);
  // Python's repr: positional for 1e-4 <= |v| < 1e16, scientific otherwise; shortest digits.
  const bool fixed = a == 0.0 || (a >= 1e-4 && a < 1e16);
  const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v, fixed ? std::chars_format::fixed : std::chars_format::scientific);
  std::string s(buf, p);
  if (fixed && s.find('.') == std::string::npos) s += ".0";
  return s;  // scientific: C++ and Python both write 1e-05 and 1e+16
}

std::vector<std::vector<double>> rle_to_polygons(const Rle& rle) {
  std::vector<std::uint8_t> mask = rle_to_mask(rle);
  cv::Mat m(rle.h, rle.w, CV_8UC1, mask.data());
  std::vector<std::vector<cv::Point>> contours;
  cv::findContours(m, contours, cv::RETR_EXTERNAL, cv::CHAIN_APPROX_SIMPLE);
  std::vector<std::vector<double>> polys;
  for (const auto& c : contours) {
    if (c.size() < 3) continue;
    std::vector<double> flat;
    for (const cv::Point& p : c) {
      flat.push_back(p.x);
      flat.push_back(p.y);
    }
    polys.push_back(std::move(flat));
  }
  // Lines and dots have no 3-point contour; pycocotools rejects an empty list, so give their
  // pixel outline (the box from the first to the last pixel, inclusive) instead.
  if (polys.empty() && area_from_rle(rle) > 0) {
    const auto b = rle_to_coco_bbox(rle);
    polys.push_back({b[0], b[1], b[0] + b[2], b[1], b[0] + b[2], b[1] + b[3], b[0], b[1] + b[3]});
  }
  return polys;
}

std::unique_ptr<MaskWriter> make_coco_writer(const std::string& path, SegmentationFormat format,
                                             const Provenance& provenance, bool resume) {
  return std::make_unique<CocoWriter>(path, format, provenance, resume);
}

std::unique_ptr<MaskWriter> make_per_image_writer(const std::string& dir, const std::string& output_mode,
                                                  SegmentationFormat format, bool overlay,
                                                  const Provenance& provenance, const std::vector<InputFile>& inputs) {
  return std::make_unique<PerImageWriter>(dir, output_mode, format, overlay, provenance, inputs);
}

std::unique_ptr<MaskWriter> make_jsonl_writer(const std::string& path, SegmentationFormat format,
                                              const Provenance& provenance, bool resume) {
  return std::make_unique<JsonlWriter>(path, format, provenance, resume);
}

}  // namespace sam2amg
