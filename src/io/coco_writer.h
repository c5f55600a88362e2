#pragma once
/// A COCO instances file for a whole run, streamed: annotations go to a temporary file as images
/// finish, and close() assembles the final file and renames it into place atomically, so a crash
/// never leaves a half-written masks.json.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "amg/mask_record.h"

namespace sam2amg {

struct CocoWriterOptions {
  /// "coco_rle" and "binary_mask" write compressed RLE strings; "uncompressed_rle" writes the
  /// counts as a list of integers.
  std::string output_mode = "coco_rle";
  /// Free text stored in info.description (e.g. the model and parameters).
  std::string description;
};

class CocoWriter {
 public:
  /// Opens the temporary annotation stream next to `path`. Throws OutputError.
  CocoWriter(std::string path, CocoWriterOptions options);
  ~CocoWriter();
  CocoWriter(const CocoWriter&) = delete;
  CocoWriter& operator=(const CocoWriter&) = delete;

  /// Adds one image (ids from 1, in call order) and its masks (ids from 1 across the run).
  /// Annotation fields: id, image_id, category_id 1, segmentation {size, counts}, area,
  /// bbox in pycocotools' convention ([x, y, w, h], w = x1 - x0 + 1, as mask.toBbox), iscrowd 0,
  /// score (= predicted_iou), and the reference's predicted_iou, stability_score, point_coords,
  /// crop_box, bbox_xywh_ref (the reference's own, one pixel narrower, bbox).
  void add_image(const std::string& file_name, int width, int height, const std::vector<MaskRecord>& records);

  /// Writes the final file atomically. Throws OutputError. Called by the destructor if needed
  /// (errors are then swallowed and the temporary files removed).
  void close();

  int64_t image_count() const { return next_image_id_ - 1; }
  int64_t annotation_count() const { return next_annotation_id_ - 1; }

 private:
  std::string path_;
  CocoWriterOptions options_;
  std::string ann_tmp_path_;
  std::FILE* ann_ = nullptr;
  std::string images_json_;  // comma-separated image objects (small: one per image)
  int64_t next_image_id_ = 1;
  int64_t next_annotation_id_ = 1;
  bool closed_ = false;
};

}  // namespace sam2amg
