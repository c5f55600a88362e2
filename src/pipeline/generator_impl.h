#pragma once
/// The generator's state and its steps (internal to pipeline/): mask_generator.cpp has the
/// entry points and the settings-dependent selection (_generate_masks), process_crop.cpp each
/// crop's candidates (_process_crop, _process_batch). ref: sam2/automatic_mask_generator.py.
#include <ATen/ATen.h>

#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "amg/crop_boxes.h"
#include "amg/mask_data.h"
#include "model/sam2_model.h"
#include "pipeline/candidate_pass.h"
#include "pipeline/image_run.h"
#include "pipeline/mask_generator.h"
#include "pipeline/postprocess.h"

namespace sam2amg {

// What prepare() made: the crop boxes, and the host's share of the model inputs.
struct PreparedImage::Inputs {
  CropBoxes crops;
  std::vector<at::Tensor> host_inputs;  // exact mode: (1, 3, S, S) float32 of the first crops
  at::Tensor pinned_image;              // fast mode: the (H, W, 3) uint8 image, page-locked
};

// The candidates of one crop, before the settings-dependent selection: every row passed the
// IoU filter of at least one setting; `data.keep` marks those that also passed its stability
// filter and the crop-edge filter (which no setting changes). `data.stability_scores` has one
// column per offset of the pass.
struct CropCandidates {
  MaskData data;
  CropBoxXyxy crop_box{};
};

struct MaskGenerator::Impl {
  Impl(Sam2Model m, const AmgConfig& c);

  Sam2Model model;
  AmgConfig config;
  std::vector<at::Tensor> point_grids;     // one (N, 2) float64 CPU grid per crop layer
  std::unique_ptr<PostprocessDesign> post;  // set_postprocess (fused by default)
  // Lowered after the device ran out of memory (ImageRun::halve_decoder_batch); kept for the
  // rest of the run.
  mutable std::int64_t batch_limit = std::numeric_limits<std::int64_t>::max();
  std::int64_t window_bytes = -1;  // -1: the device's default
  std::function<void(const std::string&)> on_warning;

  // mask_generator.cpp
  CropBoxes crop_boxes_for(const ImageU8& image) const;
  MaskData select(ImageRun& run, std::vector<CropCandidates> crops, const PassOptions& pass,
                  const SweepSetting& setting, std::int64_t orig_h, std::int64_t orig_w) const;
  void finish_crop(MaskData& data, const CropBoxXyxy& crop_box, double box_nms_thresh) const;
  void remove_crop_duplicates(MaskData& data, size_t n_crops) const;
  void postprocess_small_regions(MaskData& data, double min_area, double nms_thresh) const;

  // process_crop.cpp
  std::vector<CropCandidates> candidates(ImageRun& run, const ImageU8& image, const PreparedImage::Inputs* prepared,
                                         const CropBoxes& crops, const PassOptions& pass) const;
  at::Tensor model_input(const ImageU8& image, const PreparedImage::Inputs* prepared, size_t crop_index,
                         const CropBoxXyxy& crop_box) const;
  MaskData process_crop(ImageRun& run, const ImageU8& image, const PreparedImage::Inputs* prepared, size_t crop_index,
                        const CropBoxXyxy& crop_box, int layer_idx, const PassOptions& pass) const;
  MaskData decode_batch(ImageRun& run, const at::Tensor& points, const ImageEmbedding& embedding, std::int64_t crop_h,
                        std::int64_t crop_w) const;
  std::pair<at::Tensor, at::Tensor> refine_with_m2m(const at::Tensor& points, const at::Tensor& low_res_masks,
                                                    const ImageEmbedding& embedding, std::int64_t crop_h,
                                                    std::int64_t crop_w) const;
  double low_res_fill_area() const;
  std::int64_t decoder_batch() const;
  std::int64_t compaction_window() const;
};

}  // namespace sam2amg
