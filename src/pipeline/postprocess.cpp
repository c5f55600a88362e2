#include "pipeline/postprocess.h"

namespace sam2amg {

std::unique_ptr<PostprocessDesign> make_postprocess(Postprocess mode, const AmgConfig& config) {
  // The reference upsamples (B, 3) blocks in the multimask path and (B, 1) blocks otherwise,
  // which LibTorch's CPU backend computes with different kernels.
  const UpsampleLayout layout =
      config.multimask_output && !config.use_m2m ? UpsampleLayout::kGeneric : UpsampleLayout::kChannelsLast;
  if (mode == Postprocess::kReference) return make_reference_postprocess(config.mask_threshold, layout);
  return make_fused_postprocess(config.mask_threshold, layout);
}

}  // namespace sam2amg
