#pragma once
/// The load-time check of docs/model-contract.md that metadata alone cannot give: one tiny call
/// of each graph, on zeros of the documented shapes, whose outputs must have the documented
/// shapes and dtypes.
#include <string>

namespace sam2amg {

class Sam2Model;

/// Runs encode_image on a (1, 3, S, S) zero image and predict_masks on one prompt and on a batch
/// of two (a graph may break only for batches); with `mask_input`, predict_masks_with_mask_input
/// too (the m2m refinement). Throws ModelError (exit 3) naming `path`, the graph, and the shape,
/// dtype or non-finite value it returned.
void probe_model(const Sam2Model& model, const std::string& path, bool mask_input = false);

}  // namespace sam2amg
