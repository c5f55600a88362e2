#include "amg/amg_config.h"
#include "common/error.h"
#include "support/catch.h"

using namespace sam2amg;

TEST_CASE("AmgConfig defaults are SAM2AutomaticMaskGenerator's", "[amg][config]") {
  const AmgConfig c;
  CHECK(c.points_per_side == 32);
  CHECK(c.points_per_batch == 64);
  CHECK(c.pred_iou_thresh == 0.8);
  CHECK(c.stability_score_thresh == 0.95);
  CHECK(c.stability_score_offset == 1.0);
  CHECK(c.mask_threshold == 0.0);
  CHECK(c.box_nms_thresh == 0.7);
  CHECK(c.crop_n_layers == 0);
  CHECK(c.crop_nms_thresh == 0.7);
  CHECK(c.crop_overlap_ratio == 512.0 / 1500.0);
  CHECK(c.crop_n_points_downscale_factor == 1);
  CHECK(c.point_grids.empty());
  CHECK(c.min_mask_region_area == 0.0);
  CHECK(c.output_mode == OutputMode::kBinaryMask);
  CHECK_FALSE(c.use_m2m);
  CHECK(c.multimask_output);
  CHECK_NOTHROW(c.validate());
}

static std::string validation_message(const AmgConfig& c) {
  try {
    c.validate();
  } catch (const UsageError& e) {
    CHECK(e.exit_code() == 2);
    return e.what();
  }
  return "";
}

TEST_CASE("AmgConfig::validate names the bad field", "[amg][config]") {
  AmgConfig c;
  c.point_grids = {{{0.5, 0.5}}};
  CHECK(validation_message(c).find("both set") != std::string::npos);  // Python asserts exactly one
  c.points_per_side.reset();
  CHECK(validation_message(c).empty());
  c.crop_n_layers = 1;  // needs two grids
  CHECK(validation_message(c).find("needs 2") != std::string::npos);
  c.point_grids.push_back({{1.5, 0.5}});
  CHECK(validation_message(c).find("outside [0, 1]") != std::string::npos);

  AmgConfig d;
  d.points_per_side.reset();
  CHECK(validation_message(d).find("no point grid") != std::string::npos);
  AmgConfig e;
  e.box_nms_thresh = 1.5;
  CHECK(validation_message(e).find("box_nms_thresh") != std::string::npos);
  AmgConfig g;
  g.points_per_side = 4;
  g.crop_n_layers = 3;
  g.crop_n_points_downscale_factor = 2;  // 4 / 8 truncates to 0 points in layer 3
  CHECK(validation_message(g).find("no points in crop layer 3") != std::string::npos);
  AmgConfig h;
  h.points_per_batch = 0;
  CHECK(validation_message(h).find("points_per_batch") != std::string::npos);
}

TEST_CASE("Word-valued options parse and print through one table per enum", "[amg][config]") {
  CHECK(parse_enum<OutputMode>("coco_rle") == OutputMode::kCocoRle);
  CHECK(std::string(enum_name(OutputMode::kUncompressedRle)) == "uncompressed_rle");
  CHECK(std::string(enum_name(SmallRegionMode::kSam1FullRes)) == "sam1");
  CHECK(parse_enum<Postprocess>("reference") == Postprocess::kReference);
  for (const std::string& name : enum_spellings<OutputMode>())
    CHECK(enum_name(parse_enum<OutputMode>(name)) == name);
  try {
    parse_enum<OutputMode>("png");
    FAIL("expected a UsageError");
  } catch (const UsageError& e) {
    CHECK(e.exit_code() == 2);
    CHECK(std::string(e.what()) == "invalid output_mode = 'png': expected binary_mask, uncompressed_rle or coco_rle");
  }
}

TEST_CASE("AmgConfig::validate refuses thresholds that keep nothing and grids that cannot exist", "[amg][config]") {
  auto message = [](auto set) {
    AmgConfig c;
    set(c);
    return validation_message(c);
  };
  // Scores lie in [0, 1]: above 1 nothing passes; <= 0 is the documented "off".
  CHECK(message([](AmgConfig& c) { c.pred_iou_thresh = 2; }).find("invalid pred_iou_thresh = 2: expected a value in "
                                                                    "[0, 1]") != std::string::npos);
  CHECK(message([](AmgConfig& c) { c.stability_score_thresh = 1.5; }).find("invalid stability_score_thresh = 1.5") !=
        std::string::npos);
  CHECK(message([](AmgConfig& c) { c.pred_iou_thresh = 1; }).empty());
  CHECK(message([](AmgConfig& c) { c.stability_score_thresh = 1; }).empty());
  CHECK(message([](AmgConfig& c) { c.pred_iou_thresh = -1; }).empty());
  CHECK(message([](AmgConfig& c) { c.stability_score_thresh = 0; }).empty());
  // 100000^2 points would be a 160 GB grid: refused before any work.
  CHECK(message([](AmgConfig& c) { c.points_per_side = 100000; }).find("invalid points_per_side = 100000: expected "
                                                                         "an integer in [1, 4096]") != std::string::npos);
  CHECK(message([](AmgConfig& c) { c.points_per_side = kMaxPointsPerSide; }).empty());
}
