// End-to-end runs of the generator with the synthetic model, whose right answer is known:
// every palette colour under a grid point is one mask, pixel-exact on 256x256 images.
#include <algorithm>
#include <cmath>
#include <optional>
#include <set>

#include "common/error.h"
#include "model/synthetic_model.h"
#include "pipeline/mask_generator.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "support/records.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::vector<MaskRecord> run(const AmgConfig& config, const ImageU8& image) {
  return MaskGenerator(synthetic_model_path(), config, {test_device()}).generate(image);
}

struct Expected {
  Rgb colour;
  std::array<float, 2> first_point;  // first grid point (row-major) inside the object
};

// The four-object scene sorted by area (= the order of predicted IoU in the synthetic model).
const std::vector<Expected> kScene = {
    {kBlack, {4, 4}}, {kGreen, {140, 36}}, {kBlue, {44, 156}}, {kRed, {20, 20}}, {kWhite, {164, 164}}};

}  // namespace

TEST_CASE("Defaults find exactly the known objects, in the reference's order", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  const auto records = run(AmgConfig{}, img);
  REQUIRE(records.size() == kScene.size());
  for (size_t i = 0; i < kScene.size(); ++i) {
    INFO("record " << i);
    const Rle truth = colour_mask(img, kScene[i].colour);
    const MaskRecord& r = records[i];
    CHECK(r.segmentation == truth);
    CHECK(r.area == area_from_rle(truth));
    const auto coco = rle_to_coco_bbox(truth);  // reference bbox is one pixel narrower
    CHECK(r.bbox_xywh == std::array<float, 4>{float(coco[0]), float(coco[1]), float(coco[2] - 1), float(coco[3] - 1)});
    // Equal scores tie inside an object; the first prompt of the object wins.
    CHECK(r.point_coords == kScene[i].first_point);
    const float frac = float(r.area) / 65536.f;
    CHECK(std::abs(r.predicted_iou - (0.9f + 0.09f * frac)) < 1e-6f);
    CHECK(r.stability_score == 1.f);
    CHECK(r.crop_box_xywh == std::array<float, 4>{0, 0, 256, 256});
  }
}

TEST_CASE("points_per_batch does not change a single byte", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig base;
  base.points_per_side = 16;
  base.crop_n_layers = 1;
  base.pred_iou_thresh = 0;  // keep all three tokens, ties everywhere
  base.stability_score_thresh = 0;
  const auto reference = run(base, img);
  REQUIRE(reference.size() > 5);
  for (int ppb : {1, 7, 64, 1024}) {
    INFO("points_per_batch " << ppb);
    AmgConfig c = base;
    c.points_per_batch = ppb;
    require_same_records(run(c, img), reference);
  }
}

TEST_CASE("multimask_output=false uses token 0's mask and score", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.multimask_output = false;
  const auto records = run(c, img);
  REQUIRE(records.size() == kScene.size());
  for (size_t i = 0; i < records.size(); ++i) {
    CHECK(records[i].segmentation == colour_mask(img, kScene[i].colour));
    const float frac = float(records[i].area) / 65536.f;
    CHECK(std::abs(records[i].predicted_iou - (0.85f + 0.1f * frac)) < 1e-6f);
  }
}

TEST_CASE("use_m2m replaces masks and scores with the refined prediction", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.use_m2m = true;
  const auto records = run(c, img);
  REQUIRE(records.size() == kScene.size());
  for (const MaskRecord& r : records) CHECK(r.predicted_iou == 0.93f);  // the m2m pass's score
  // All scores tie, so NMS keeps prompt order: the first prompt (background) comes first.
  CHECK(records[0].point_coords == std::array<float, 2>{4, 4});
  for (const Expected& e : kScene) {
    const Rle truth = colour_mask(img, e.colour);
    bool found = false;
    for (const MaskRecord& r : records) found = found || r.segmentation == truth;
    CHECK(found);
  }
}

TEST_CASE("min_mask_region_area fills a small hole, on the CPU too", "[pipeline][e2e]") {
  // A red square with a one-pixel white speck that no grid point hits.
  const ImageU8 img = make_image(256, 256, kBlack, {{40, 40, 120, 120, kRed}, {61, 61, 62, 62, kWhite}});
  const Rle square = colour_mask(make_image(256, 256, kBlack, {{40, 40, 120, 120, kRed}}), kRed);
  auto find_red = [&](const std::vector<MaskRecord>& rs) -> const MaskRecord* {
    for (const MaskRecord& r : rs)
      if (r.point_coords == std::array<float, 2>{44, 44}) return &r;
    return nullptr;
  };
  const auto plain = run(AmgConfig{}, img);
  const MaskRecord* red = find_red(plain);
  REQUIRE(red != nullptr);
  CHECK(red->area == 80 * 80 - 1);  // the hole is there without the option

  AmgConfig c;
  c.min_mask_region_area = 4;
  const auto filled = run(c, img);
  red = find_red(filled);
  REQUIRE(red != nullptr);
  CHECK(red->segmentation == square);
  CHECK(filled.size() == plain.size());

  // SAM 1's full-resolution removal: the same hole is filled and the changed mask's NMS score
  // drops to 0, so it moves after the unchanged background mask.
  c.min_mask_region_mode = SmallRegionMode::kSam1FullRes;
  const auto sam1 = run(c, img);
  REQUIRE(sam1.size() == 2);
  CHECK(sam1.back().segmentation == square);
  CHECK(sam1.back().bbox_xywh == std::array<float, 4>{40, 40, 79, 79});
}

TEST_CASE("crop_n_layers=1 finds each object in a crop, the background in the full image", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.crop_n_layers = 1;
  const auto records = run(c, img);
  REQUIRE(records.size() == kScene.size());
  const std::array<float, 4> full{0, 0, 256, 256};
  for (const Expected& e : kScene) {
    INFO("colour " << int(e.colour[0]) << "," << int(e.colour[1]) << "," << int(e.colour[2]));
    const Rle truth = colour_mask(img, e.colour);
    const MaskRecord* best = nullptr;
    for (const MaskRecord& r : records)
      if (!best || rle_iou(r.segmentation, truth) > rle_iou(best->segmentation, truth)) best = &r;
    CHECK(rle_iou(best->segmentation, truth) > 0.95);
    // Smaller crops win the cross-crop NMS; the background touches every crop's inner edges.
    if (e.colour == kBlack)
      CHECK(best->crop_box_xywh == full);
    else
      CHECK(best->crop_box_xywh != full);
  }
}

TEST_CASE("Explicit point_grids prompt exactly the given points", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.points_per_side.reset();
  c.point_grids = {{{185.0 / 256, 75.0 / 256}}};  // inside the green rectangle
  const auto records = run(c, img);
  REQUIRE(records.size() == 1);
  CHECK(records[0].segmentation == colour_mask(img, kGreen));
  CHECK(records[0].point_coords == std::array<float, 2>{185, 75});

  // With one crop layer, layer 1's grid is prompted in every crop, in crop coordinates.
  c.crop_n_layers = 1;
  c.point_grids.push_back({{0.5, 0.5}});
  // The four crop centres fall in red, blue, green and white; the crop's green mask beats the
  // full image's in the cross-crop NMS (smaller crop), so every mask comes from a crop.
  const auto layered = run(c, img);
  REQUIRE(layered.size() == 4);
  for (const MaskRecord& r : layered) {
    CHECK(r.crop_box_xywh[2] < 256);
    // A layer-1 mask's prompt is the centre of its crop, e.g. 85 + 171 / 2 = 170.5.
    CHECK(r.point_coords[0] == r.crop_box_xywh[0] + r.crop_box_xywh[2] / 2);
    CHECK(r.point_coords[1] == r.crop_box_xywh[1] + r.crop_box_xywh[3] / 2);
  }
}

TEST_CASE("Loose thresholds let empty masks through, as the reference does", "[pipeline][e2e]") {
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.points_per_side = 4;
  c.pred_iou_thresh = 0;
  c.stability_score_thresh = 0;
  const auto records = run(c, img);
  // Five regions under the 4x4 grid; the 16 empty token-3 masks have zero-area boxes whose IoU
  // is 0/0 (never suppressed); the full-image token-2 masks lose to the background's box.
  REQUIRE(records.size() == 5 + 16);
  int empty = 0;
  for (const MaskRecord& r : records) {
    if (r.area != 0) continue;
    ++empty;
    CHECK(std::isnan(r.stability_score));
    CHECK(r.bbox_xywh == std::array<float, 4>{0, 0, 0, 0});
    CHECK(r.predicted_iou == 0.2f);
  }
  CHECK(empty == 16);
}

TEST_CASE("An image too small for its crop layers is refused, not crashed on", "[pipeline][e2e]") {
  AmgConfig c;
  c.crop_n_layers = 2;
  c.points_per_side = 4;
  const MaskGenerator gen(synthetic_model_path(), c, {test_device()});
  CHECK_THROWS_AS(gen.generate(make_image(5, 5, kBlack, {})), ImageError);
  CHECK(gen.generate(make_image(64, 64, kBlack, {{8, 8, 40, 40, kRed}})).size() == 2);
}

TEST_CASE("Nothing surviving with crops gives an empty list (the reference raises)", "[pipeline][e2e]") {
  AmgConfig c;
  c.crop_n_layers = 1;
  c.pred_iou_thresh = 0.999;  // above every score the synthetic model gives
  CHECK(run(c, four_object_scene()).empty());
  c.crop_n_layers = 0;
  CHECK(run(c, four_object_scene()).empty());
}

TEST_CASE("Non-square images: square resize, masks back at full resolution", "[pipeline][e2e]") {
  const ImageU8 img = make_image(320, 200, kBlack, {{40, 30, 160, 130, kYellow}, {200, 60, 300, 180, kBlue}});
  const auto records = run(AmgConfig{}, img);
  REQUIRE(records.size() == 3);
  for (const Rgb& colour : {kBlack, kYellow, kBlue}) {
    const Rle truth = colour_mask(img, colour);
    double best = 0;
    for (const MaskRecord& r : records) {
      CHECK(r.segmentation.h == 200);
      CHECK(r.segmentation.w == 320);
      best = std::max(best, rle_iou(r.segmentation, truth));
    }
    CHECK(best > 0.97);
  }
}

TEST_CASE("The filter funnel counts every stage and ends at the output count", "[pipeline][funnel]") {
  const ImageU8 img = four_object_scene();
  const MaskGenerator gen(synthetic_model_path(), AmgConfig{}, {test_device()});
  FilterFunnel f;
  const auto records = gen.generate(img, &f);
  // 1024 points x 3 tokens; only token 1 (IoU >= 0.9) passes 0.8; all are stable and the full
  // image crop has no inner edge; NMS leaves one mask per colour.
  CHECK(f.candidates == 3072);
  CHECK(f.after_pred_iou == 1024);
  CHECK(f.after_stability == 1024);
  CHECK(f.after_crop_edge == 1024);
  CHECK(f.after_box_nms == 5);
  CHECK(f.after_crop_nms == 5);
  CHECK(f.final_masks == static_cast<int64_t>(records.size()));

  // With a crop layer and loose filters every stage matters; counts never grow.
  AmgConfig c;
  c.points_per_side = 8;
  c.crop_n_layers = 1;
  c.pred_iou_thresh = 0.4;
  const MaskGenerator crops(synthetic_model_path(), c, {test_device()});
  FilterFunnel g;
  const auto rs = crops.generate(img, &g);
  CHECK(g.candidates == 5 * 64 * 3);
  const std::vector<int64_t> stages{g.candidates, g.after_pred_iou, g.after_stability, g.after_crop_edge,
                                    g.after_box_nms, g.after_crop_nms, g.final_masks};
  for (size_t i = 1; i < stages.size(); ++i) CHECK(stages[i] <= stages[i - 1]);
  CHECK(g.after_pred_iou == 2 * 5 * 64);  // tokens 1 (0.9+) and 2 (0.5) pass 0.4, token 3 (0.2) not
  CHECK(g.after_crop_edge < g.after_stability);
  CHECK(g.after_crop_nms < g.after_box_nms);
  CHECK(g.final_masks == static_cast<int64_t>(rs.size()));
}

TEST_CASE("Area filters drop exactly the objects outside the bounds, and the funnel says so", "[pipeline][filters]") {
  // Areas of the scene (kScene order): black 43036, green 8100, blue 7200, red 5600, white 1600.
  const ImageU8 img = four_object_scene();
  AmgConfig base;
  base.points_per_side = 8;  // still a point in every object
  const MaskGenerator plain(synthetic_model_path(), base, {test_device()});
  FilterFunnel f0;
  const auto all = plain.generate(img, &f0);
  REQUIRE(all.size() == 5);
  CHECK(funnel_stages(f0).size() == 7);  // no filter: the reference's stages only
  struct Case {
    const char* name;
    void (*apply)(AmgConfig&);
    std::vector<size_t> kept;
    std::optional<int64_t> after_min_area, after_max_area;
  };
  auto between = [](AmgConfig& c) {
    c.min_area = 1601;
    c.max_area = 8099;
  };
  const Case cases[] = {
      {"min_area 5600", [](AmgConfig& c) { c.min_area = 5600; }, {0, 1, 2, 3}, 4, {}},
      {"fraction 5600 / 65536", [](AmgConfig& c) { c.min_area_fraction = 5600.0 / 65536; }, {0, 1, 2, 3}, 4, {}},
      {"fraction 0.085 (5570.56 px)", [](AmgConfig& c) { c.min_area_fraction = 0.085; }, {0, 1, 2, 3}, 4, {}},
      {"min_area 5601", [](AmgConfig& c) { c.min_area = 5601; }, {0, 1, 2}, 3, {}},
      {"max_area 8100", [](AmgConfig& c) { c.max_area = 8100; }, {1, 2, 3, 4}, {}, 4},
      {"max_area_fraction 0.5", [](AmgConfig& c) { c.max_area_fraction = 0.5; }, {1, 2, 3, 4}, {}, 4},
      {"between 1601 and 8099", between, {2, 3}, 4, 2},
  };
  for (const Case& k : cases) {
    INFO(k.name);
    AmgConfig c = base;
    k.apply(c);
    const MaskGenerator gen(synthetic_model_path(), c, {test_device()});
    FilterFunnel f;
    const auto records = gen.generate(img, &f);
    std::vector<MaskRecord> expected;
    for (size_t i : k.kept) expected.push_back(all[i]);
    require_same_records(records, expected);
    // The reference's stages are untouched; each filter that is on has its own stage.
    CHECK(f.after_crop_nms == 5);
    CHECK(f.after_min_area == k.after_min_area);
    CHECK(f.after_max_area == k.after_max_area);
    CHECK_FALSE(f.after_max_masks);
    CHECK(f.final_masks == static_cast<int64_t>(k.kept.size()));
  }
}

TEST_CASE("max_masks_per_image and sort_by order masks from several crops as documented", "[pipeline][filters]") {
  const ImageU8 img = four_object_scene();
  AmgConfig base;
  base.points_per_side = 8;
  base.crop_n_layers = 1;
  base.pred_iou_thresh = 0.4;
  base.crop_nms_thresh = 1.0;  // objects seen by several crops stay: crop order, and ties
  const auto all = run(base, img);
  REQUIRE(all.size() > 6);
  // The documented orders, written out here: highest first, ties in the generator's order.
  auto by = [&](MaskSort s) {
    std::vector<size_t> idx(all.size());
    for (size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    auto value = [&](size_t i) {
      return s == MaskSort::kArea           ? double(all[i].area)
             : s == MaskSort::kPredictedIou ? all[i].predicted_iou
                                            : all[i].stability_score;
    };
    std::stable_sort(idx.begin(), idx.end(), [&](size_t a, size_t b) { return value(a) > value(b); });
    return idx;
  };
  bool reordered = false;
  for (MaskSort s : {MaskSort::kArea, MaskSort::kPredictedIou, MaskSort::kStabilityScore}) {
    INFO("sort " << enum_name(s));
    const std::vector<size_t> order = by(s);
    AmgConfig c = base;
    c.sort_by = s;
    std::vector<MaskRecord> sorted;
    for (size_t i : order) sorted.push_back(all[i]);
    require_same_records(run(c, img), sorted);
    for (size_t i = 0; i < order.size(); ++i) reordered = reordered || order[i] != i;

    // The top 3 by the sort, kept in the generator's order.
    c = base;
    c.max_masks_per_image = 3;
    c.max_masks_by = s;
    std::vector<size_t> top(order.begin(), order.begin() + 3);
    std::sort(top.begin(), top.end());
    std::vector<MaskRecord> expected;
    for (size_t i : top) expected.push_back(all[i]);
    FilterFunnel f;
    const auto records = MaskGenerator(synthetic_model_path(), c, {test_device()}).generate(img, &f);
    require_same_records(records, expected);
    CHECK(f.after_max_masks == 3);
    CHECK(f.final_masks == 3);
    CHECK(f.after_crop_nms == static_cast<int64_t>(all.size()));
  }
  CHECK(reordered);  // the scene really tests an order other than the generator's
}

TEST_CASE("A sweep applies the output filters as a full run does", "[pipeline][sweep][filters]") {
  const ImageU8 img = four_object_scene();
  AmgConfig base;
  base.points_per_side = 8;
  base.crop_n_layers = 1;
  base.min_area = 1000;
  base.max_masks_per_image = 4;
  base.max_masks_by = MaskSort::kArea;
  base.sort_by = MaskSort::kStabilityScore;
  const std::vector<SweepSetting> settings{{0.0, 0.0, 1.0, 0.7}, {0.4, 0.95, 1.0, 1.0}, {0.8, 0.95, 1.0, 0.7}};
  const auto swept = MaskGenerator(synthetic_model_path(), base, {test_device()}).sweep(img, settings);
  REQUIRE(swept.size() == settings.size());
  for (size_t k = 0; k < settings.size(); ++k) {
    INFO("setting " << k);
    AmgConfig c = base;
    c.pred_iou_thresh = settings[k].pred_iou_thresh;
    c.stability_score_thresh = settings[k].stability_score_thresh;
    c.box_nms_thresh = settings[k].box_nms_thresh;
    const auto full = run(c, img);
    require_same_records(swept[k], full);
    CHECK(full.size() <= 4);
    for (const MaskRecord& r : full) CHECK(r.area >= 1000);
  }
}

TEST_CASE("A threshold sweep gives exactly the records of separate full runs", "[pipeline][sweep]") {
  const ImageU8 img = four_object_scene();
  for (int layers : {0, 1}) {
    INFO("crop_n_layers " << layers);
    AmgConfig base;
    base.points_per_side = 8;
    base.crop_n_layers = layers;
    std::vector<SweepSetting> settings;
    for (double p : {0.0, 0.45, 0.8})
      for (double s : {0.0, 0.95})
        for (double o : {1.0, 20.0})
          for (double b : {0.7, 1.0}) settings.push_back({p, s, o, b});
    const auto swept = MaskGenerator(synthetic_model_path(), base, {test_device()}).sweep(img, settings);
    REQUIRE(swept.size() == settings.size());
    std::set<size_t> distinct;
    for (size_t k = 0; k < settings.size(); ++k) {
      INFO("setting " << k);
      AmgConfig c = base;
      c.pred_iou_thresh = settings[k].pred_iou_thresh;
      c.stability_score_thresh = settings[k].stability_score_thresh;
      c.stability_score_offset = settings[k].stability_score_offset;
      c.box_nms_thresh = settings[k].box_nms_thresh;
      require_same_records(swept[k], run(c, img));
      distinct.insert(swept[k].size());
    }
    CHECK(distinct.size() >= 3);  // the settings really differ
  }
}

TEST_CASE("Fused and reference post-processing give identical records", "[pipeline][fused]") {
  // Sizes that make the upsampling blend across object edges (256 would be an identity).
  const ImageU8 scenes[] = {
      make_image(300, 200, kBlack, {{20, 30, 140, 170, kRed}, {150, 10, 290, 90, kGreen}, {160, 100, 280, 190, kBlue},
                                    {60, 60, 100, 100, kWhite}}),
      make_image(389, 517, kWhite, {{0, 0, 389, 120, kBlue}, {40, 200, 300, 480, kRed}, {100, 250, 180, 330, kYellow}})};
  struct Variant {
    const char* name;
    void (*apply)(AmgConfig&);
  };
  const Variant variants[] = {
      {"defaults", [](AmgConfig&) {}},
      {"loose, all candidates", [](AmgConfig& c) { c.pred_iou_thresh = 0; c.stability_score_thresh = 0; c.box_nms_thresh = 1.0; }},
      {"crop layer", [](AmgConfig& c) { c.crop_n_layers = 1; c.pred_iou_thresh = 0.4; }},
      {"m2m", [](AmgConfig& c) { c.use_m2m = true; }},
      {"single mask", [](AmgConfig& c) { c.multimask_output = false; }},
      {"hole fill", [](AmgConfig& c) { c.min_mask_region_area = 30; c.stability_score_offset = 20; c.stability_score_thresh = 0; }},
      {"mask threshold", [](AmgConfig& c) { c.mask_threshold = 3.5; c.stability_score_offset = 0.5; }},
  };
  for (const ImageU8& img : scenes) {
    for (const Variant& v : variants) {
      INFO(img.width << "x" << img.height << ", " << v.name);
      AmgConfig c;
      c.points_per_side = 12;
      v.apply(c);
      MaskGenerator gen(synthetic_model_path(), c, {test_device()});
      FilterFunnel f_fused, f_ref;
      const auto fused = gen.generate(img, &f_fused);
      gen.set_postprocess(Postprocess::kReference);
      const auto ref = gen.generate(img, &f_ref);
      REQUIRE(!ref.empty());
      require_same_records(fused, ref);
      CHECK(f_fused.after_stability == f_ref.after_stability);
      CHECK(f_fused.after_crop_edge == f_ref.after_crop_edge);
      CHECK(f_fused.after_box_nms == f_ref.after_box_nms);
    }
  }
}

TEST_CASE("Out of device memory, the decoder batch is halved and the run goes on", "[pipeline][oom]") {
  TempDir dir;
  const std::string model = dir.file("oom.pt");
  write_synthetic_model(model, /*fail_from_batch=*/11);
  const ImageU8 img = four_object_scene();
  AmgConfig c;
  c.points_per_side = 16;  // 256 prompts: batches of 64, 32 and 16 fail, 8 pass
  const auto expected = run(c, img);
  MaskGenerator gen(model, c, {test_device()});
  std::vector<std::string> warnings;
  gen.set_warning_handler([&](const std::string& w) { warnings.push_back(w); });
  require_same_records(gen.generate(img), expected);
  REQUIRE(warnings.size() == 3);
  CHECK(warnings[0].find("at 64 prompts") != std::string::npos);
  CHECK(warnings[2].find("continuing with 8") != std::string::npos);
  // The smaller batch is kept: a second image warns no more.
  gen.generate(img);
  CHECK(warnings.size() == 3);

  // When even one prompt does not fit, it is a device error that a retry may cure (exit 75),
  // found by the load-time probe (one prompt) before any image.
  const std::string hopeless = dir.file("oom1.pt");
  write_synthetic_model(hopeless, /*fail_from_batch=*/1);
  try {
    MaskGenerator never(hopeless, c, {test_device()});
    never.generate(img);
    FAIL("expected a DeviceError");
  } catch (const DeviceError& e) {
    CHECK(e.exit_code() == 75);
    CHECK(std::string(e.what()).find("one prompt") != std::string::npos);
  }
}
