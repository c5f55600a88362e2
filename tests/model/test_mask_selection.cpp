#include "model/mask_selection.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

TEST_CASE("dynamic_multimask_via_stability falls back to the best multimask token", "[model][decoder]") {
  at::Tensor logits = at::zeros({3, 4, 4, 4});
  logits[0][0].fill_(1.f);   // stable token 0: kept
  logits[1][0].fill_(0.f);   // all within +-0.05: stability 0, fall back
  logits[2][0].fill_(-1.f);  // area_u = 0: stability 1.0, kept
  for (int b = 0; b < 3; ++b)
    for (int t = 1; t < 4; ++t) logits[b][t].fill_(float(10 * t + b));
  const at::Tensor iou = at::tensor({0.1f, 0.3f, 0.9f, 0.9f,    // tie 0.9: first of tokens 1..3 wins
                                     0.1f, 0.3f, 0.9f, 0.9f,
                                     0.2f, 0.8f, 0.1f, 0.1f})
                             .view({3, 4});
  const auto [out_logits, out_iou] = dynamic_multimask_via_stability(logits, iou, 0.05, 0.98);
  REQUIRE(out_logits.sizes() == at::IntArrayRef({3, 1, 4, 4}));
  CHECK(out_logits[0][0][0][0].item<float>() == 1.f);
  CHECK(out_iou[0][0].item<float>() == 0.1f);
  CHECK(out_logits[1][0][0][0].item<float>() == 21.f);  // token 2 of sample 1
  CHECK(out_iou[1][0].item<float>() == 0.9f);
  CHECK(out_logits[2][0][0][0].item<float>() == -1.f);
  CHECK(out_iou[2][0].item<float>() == 0.2f);

  // select_mask_outputs: tokens 1..3 for multimask, token 0 without the fallback.
  const auto [mm, mm_iou] = select_mask_outputs(logits, iou, true, {});
  CHECK(mm.size(1) == 3);
  CHECK(mm_iou[0][0].item<float>() == 0.3f);
  const auto [single, single_iou] = select_mask_outputs(logits, iou, false, DynamicMultimask{false});
  CHECK(single[1][0][0][0].item<float>() == 0.f);
  CHECK(single_iou[1][0].item<float>() == 0.1f);
}
