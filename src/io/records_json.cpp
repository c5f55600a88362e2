#include "io/records_json.h"

#include "io/polygons.h"

namespace sam2amg {

using nlohmann::json;

namespace {

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

}  // namespace

json segmentation_json(const Rle& rle, SegmentationFormat format) {
  switch (format) {
    case SegmentationFormat::kUncompressedRle:
      return {{"size", {rle.h, rle.w}}, {"counts", rle.counts}};
    case SegmentationFormat::kPolygon:
      // A mask with a hole keeps its RLE: COCO polygons cannot leave a hole open.
      if (auto polygons = rle_to_polygons(rle)) return *polygons;
      break;
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

json run_end_json(const RunEnd& end) {
  auto list = [](const std::vector<UnreadableInput>& inputs) {
    json a = json::array();
    for (const UnreadableInput& in : inputs) a.push_back({{"path", in.path}, {"reason", in.reason}});
    return a;
  };
  json j{{"complete", end.complete}};
  if (!end.stopped_by.empty()) j["stopped_by"] = end.stopped_by;
  j["unreadable"] = list(end.unreadable);
  j["skipped_entries"] = list(end.skipped_entries);
  return j;
}

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

SegmentationFormat segmentation_format(OutputMode output_mode, bool polygons) {
  if (polygons) return SegmentationFormat::kPolygon;
  return output_mode == OutputMode::kUncompressedRle ? SegmentationFormat::kUncompressedRle : SegmentationFormat::kCompressedRle;
}

}  // namespace sam2amg
