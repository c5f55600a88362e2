#pragma once
/// The model's stages of one image, in the order an image passes them: the one list that the
/// generator times (pipeline/stage_times.h StageTimes) and the bench prints and writes
/// (io/bench_json.h). A stage is a field of StageSeconds and a row of kStages, nowhere else.
#include <array>
#include <cstddef>

namespace sam2amg {

/// Seconds one image spent in each stage.
struct StageSeconds {
  double preprocess = 0;   ///< crop, resize and normalise (CPU), copy to the device
  double encoder = 0;      ///< graph A, per crop
  double decoder = 0;      ///< graph B (and the m2m pass), per batch
  double postprocess = 0;  ///< hole fill, upsampling or its statistics, filters
  double nms = 0;          ///< per-crop and cross-crop NMS
  double rle = 0;          ///< the output masks' RLE
};

/// What names a stage: its key in the bench's JSON, its heading and width in the bench's table,
/// and its field.
struct StageName {
  const char* key;
  const char* heading;
  int width;
  double StageSeconds::*seconds;
};

inline constexpr std::array<StageName, 6> kStages{{
    {"preprocess", "preproc", 8, &StageSeconds::preprocess},
    {"encoder", "encoder", 8, &StageSeconds::encoder},
    {"decoder", "decoder", 8, &StageSeconds::decoder},
    {"postprocess", "post", 8, &StageSeconds::postprocess},
    {"nms", "nms", 6, &StageSeconds::nms},
    {"rle", "rle", 6, &StageSeconds::rle},
}};
static_assert(sizeof(StageSeconds) == kStages.size() * sizeof(double), "every field of StageSeconds is a row of kStages");

/// The position of a stage's field in kStages (a stage clock's index).
constexpr int stage_index(double StageSeconds::*seconds) {
  for (std::size_t i = 0; i < kStages.size(); ++i)
    if (kStages[i].seconds == seconds) return static_cast<int>(i);
  return -1;
}

}  // namespace sam2amg
