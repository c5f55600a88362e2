#pragma once
/// A small, deterministic model that follows docs/model-contract.md, built without Python or
/// network access, so that anyone can run the tool and the tests can know the right answer.
///
/// What it does (see docs/model-contract.md "The synthetic model"):
///  - encode_image: feat_s0 channels 0..2 are the normalised input average-pooled 4x4 to the
///    low-res grid; the other outputs are zeros.
///  - every low-res cell gets one of 8 palette classes: one bit per RGB channel, set when the
///    channel is above 0.5 (the 8 corners of the RGB cube: black, red, green, ..., white);
///  - a point prompt's mask is the set of cells of the class under the point:
///      token 0 (single mask): that region, iou 0.85 + 0.1 * f   (f = region area / cells)
///      token 1: that region, iou 0.9 + 0.09 * f
///      token 2: everything, iou 0.5;  token 3: nothing, iou 0.2
///    logits are +16 inside and -16 outside, so masks are stable;
///  - with a mask input (m2m), token 0 is the region intersected with mask_input > 0, iou 0.93.
/// On images drawn in palette colours, each colour present under a grid point yields exactly
/// one mask under the default parameters, pixel-exact for 256x256 images.
#include <string>

namespace sam2amg {

/// The decoder's error message with `fail_from_batch`: a CUDA-style out-of-memory error.
inline constexpr const char* kSimulatedDeviceOom =
    "CUDA out of memory. Tried to allocate 2.00 GiB (simulated by the synthetic model)";

/// Writes the synthetic TorchScript model to `path`. Throws OutputError on failure.
/// `fail_from_batch` > 0 makes the decoder methods raise `fail_message` for that many prompts or
/// more (for tests of the out-of-memory fallback and of failures a model may raise).
void write_synthetic_model(const std::string& path, int fail_from_batch = 0,
                           const std::string& fail_message = kSimulatedDeviceOom);

}  // namespace sam2amg
