#pragma once
/// The parameters a threshold sweep varies (`sam2-amg tune`, MaskGenerator::sweep): four of the
/// config's, taken from a config and put back into one here. Torch-free.
#include "amg/amg_config.h"

namespace sam2amg {

/// One point of a threshold sweep; by default the default config's.
struct SweepSetting {
  double pred_iou_thresh = AmgConfig().pred_iou_thresh;
  double stability_score_thresh = AmgConfig().stability_score_thresh;
  double stability_score_offset = AmgConfig().stability_score_offset;
  double box_nms_thresh = AmgConfig().box_nms_thresh;
};

/// The setting a config runs.
inline SweepSetting setting_of(const AmgConfig& c) {
  return {c.pred_iou_thresh, c.stability_score_thresh, c.stability_score_offset, c.box_nms_thresh};
}

/// `config` with the setting's four values: the run whose records a sweep's setting gives.
inline AmgConfig with_setting(AmgConfig config, const SweepSetting& s) {
  config.pred_iou_thresh = s.pred_iou_thresh;
  config.stability_score_thresh = s.stability_score_thresh;
  config.stability_score_offset = s.stability_score_offset;
  config.box_nms_thresh = s.box_nms_thresh;
  return config;
}

}  // namespace sam2amg
