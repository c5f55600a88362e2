#pragma once
/// The two post-processing designs of a window of decoder candidates (internal to pipeline/),
/// each in its own file and chosen in one place (make_postprocess). Both give the reference's
/// records:
///  - fused (postprocess_fused.cpp, the default): the stability counts and boxes of the
///    upsampled masks are evaluated on the fly from the low-res logits, and only the survivors
///    of both NMS passes are upsampled again, straight into RLE;
///  - reference (postprocess_reference.cpp): the reference's steps, every IoU survivor upsampled
///    to the crop at full resolution, thresholded and encoded.
#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

#include "amg/amg_config.h"
#include "amg/crop_boxes.h"
#include "amg/mask_data.h"
#include "amg/upsampled_masks.h"
#include "common/geometry.h"
#include "pipeline/candidate_pass.h"
#include "pipeline/image_run.h"

namespace sam2amg {

/// A window's candidates after a design's filters: the rows some setting of the pass may select,
/// `keep` marking those that also passed the run's own stability filter and the crop-edge filter;
/// and the funnel's counts they add.
struct Filtered {
  MaskData data;
  DeviceCounts counts;
};

class PostprocessDesign {
 public:
  /// Both designs threshold at `mask_threshold` and upsample as `layout` (make_postprocess).
  PostprocessDesign(double mask_threshold, UpsampleLayout layout) : mask_threshold_(mask_threshold), layout_(layout) {}
  virtual ~PostprocessDesign() = default;
  virtual Postprocess mode() const = 0;
  /// ref: automatic_mask_generator.py:320-384 _process_batch, the filters, on a window of
  /// decoder candidates (their low-res logits, holes filled) of the crop `crop_box` of an
  /// orig_h x orig_w image. `data` is a copy (its tensors shared), so a failure leaves the
  /// caller's rows as they were.
  virtual Filtered filter(MaskData data, const CropBoxXyxy& crop_box, std::int64_t orig_h, std::int64_t orig_w,
                          const PassOptions& pass, ImageRun& run) const = 0;
  /// The RLE of the survivors of both NMS passes, in the full image (`crops`: the crops they may
  /// come from), where filter() did not encode them.
  virtual void encode(MaskData& data, std::int64_t orig_h, std::int64_t orig_w, const CropBoxes& crops) const = 0;
  /// Whether a window's masks are held at full resolution (the host memory estimate).
  virtual bool full_resolution() const = 0;
  /// Which kernel computes it on `device`, for the bench.
  virtual std::string kernel(const at::Device& device) const = 0;

 protected:
  double mask_threshold_;
  UpsampleLayout layout_;
};

/// The design `mode` names, with `config`'s mask threshold and upsampling layout.
std::unique_ptr<PostprocessDesign> make_postprocess(Postprocess mode, const AmgConfig& config);

/// Each design's own constructor (make_postprocess chooses).
std::unique_ptr<PostprocessDesign> make_fused_postprocess(double mask_threshold, UpsampleLayout layout);
std::unique_ptr<PostprocessDesign> make_reference_postprocess(double mask_threshold, UpsampleLayout layout);

}  // namespace sam2amg
