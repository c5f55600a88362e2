#pragma once
/// The JSON of records, provenance and funnels, shared by the writers (internal to io/).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <vector>

#include "amg/mask_record.h"
#include "io/writers.h"

namespace sam2amg {

nlohmann::json segmentation_json(const Rle& rle, SegmentationFormat format);
nlohmann::json funnel_json(const FilterFunnel& f);
/// How a run ended (run-level provenance): {"complete", "stopped_by" (when interrupted),
/// "unreadable": [{"path", "reason"}], "skipped_entries": [{"path", "reason"}]}.
nlohmann::json run_end_json(const RunEnd& end);

/// An image's records as SA-1B annotations (the reference's record field names), ids from 1.
nlohmann::json sa1b_annotations(const std::vector<MaskRecord>& records, SegmentationFormat format);

/// One COCO annotation (category 1; pycocotools bbox, the reference's bbox as bbox_xywh_ref).
nlohmann::json coco_annotation(const MaskRecord& r, std::int64_t id, std::int64_t image_id, SegmentationFormat format);

}  // namespace sam2amg
