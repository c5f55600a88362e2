// The extension filters on the final records (src/amg/mask_filters.h), on hand-made records
// whose areas and scores are known.
#include <cmath>
#include <limits>
#include <string>

#include "amg/mask_filters.h"
#include "common/error.h"
#include "support/catch.h"

using namespace sam2amg;

namespace {

// A record identified by its point (x = its position in the input list).
MaskRecord rec(int id, std::int64_t area, float iou, float stability) {
  MaskRecord r;
  r.area = area;
  r.predicted_iou = iou;
  r.stability_score = stability;
  r.point_coords = {float(id), 0.f};
  return r;
}

std::vector<int> ids(const std::vector<MaskRecord>& records) {
  std::vector<int> out;
  for (const MaskRecord& r : records) out.push_back(int(r.point_coords[0]));
  return out;
}

// In the reference's order (descending predicted IoU within the one crop); areas, IoUs and
// stability scores all rank differently, with ties in each.
std::vector<MaskRecord> scene() {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {rec(0, 700, 0.99f, 0.96f), rec(1, 699, 0.97f, 0.99f),  rec(2, 5000, 0.97f, nan),
          rec(3, 120, 0.95f, 0.99f), rec(4, 9000, 0.93f, 0.97f), rec(5, 5000, 0.90f, 0.98f)};
}

std::vector<MaskRecord> filtered(const AmgConfig& c, FilterFunnel* f = nullptr) {
  std::vector<MaskRecord> r = scene();
  apply_mask_filters(r, c, 100, 100, f);  // 10000 pixels
  return r;
}

}  // namespace

TEST_CASE("Output filters are off by default and change nothing", "[amg][filters]") {
  const AmgConfig c;
  CHECK_FALSE(has_mask_filters(c));
  FilterFunnel f;
  CHECK(ids(filtered(c, &f)) == std::vector<int>{0, 1, 2, 3, 4, 5});
  CHECK_FALSE(f.after_min_area);
  CHECK_FALSE(f.after_max_area);
  CHECK_FALSE(f.after_max_masks);
  CHECK(f.final_masks == 6);
  // The funnel of a run without filters has exactly the reference's stages.
  std::vector<std::string> names;
  for (const auto& [name, count] : funnel_stages(f)) names.emplace_back(name);
  CHECK(names == std::vector<std::string>{"candidates", "after_pred_iou", "after_stability", "after_crop_edge",
                                          "after_box_nms", "after_crop_nms", "final"});
}

TEST_CASE("min_area and max_area keep the bounds themselves", "[amg][filters]") {
  AmgConfig c;
  c.min_area = 700;
  FilterFunnel f;
  CHECK(ids(filtered(c, &f)) == std::vector<int>{0, 2, 4, 5});  // 699 and 120 dropped, 700 kept
  CHECK(f.after_min_area == 4);
  CHECK_FALSE(f.after_max_area);
  CHECK(f.final_masks == 4);

  c = AmgConfig{};
  c.max_area = 5000;
  FilterFunnel g;
  CHECK(ids(filtered(c, &g)) == std::vector<int>{0, 1, 2, 3, 5});  // only 9000 dropped
  CHECK(g.after_max_area == 5);
  CHECK_FALSE(g.after_min_area);

  c.min_area = 700;
  FilterFunnel h;
  CHECK(ids(filtered(c, &h)) == std::vector<int>{0, 2, 5});
  CHECK(h.after_min_area == 4);
  CHECK(h.after_max_area == 3);
  // Stages in pipeline order, between cross-crop NMS and the output.
  const auto stages = funnel_stages(h);
  REQUIRE(stages.size() == 9);
  CHECK(std::string(stages[6].first) == "after_min_area");
  CHECK(std::string(stages[7].first) == "after_max_area");
  CHECK(std::string(stages[8].first) == "final");
}

TEST_CASE("The fraction form of the area bounds equals the pixel form", "[amg][filters]") {
  // 10000-pixel image: fraction f is f * 10000 pixels, exactly at the boundary too.
  for (auto [fraction, pixels] : {std::pair{0.07, 700}, std::pair{0.0699, 699}, std::pair{0.012, 120},
                                  std::pair{0.5, 5000}, std::pair{0.9, 9000}, std::pair{0.0121, 121}}) {
    INFO("fraction " << fraction << " = " << pixels << " pixels");
    AmgConfig px, fr;
    px.min_area = pixels;
    fr.min_area_fraction = fraction;
    CHECK(ids(filtered(fr)) == ids(filtered(px)));
    px = AmgConfig{};
    fr = AmgConfig{};
    px.max_area = pixels;
    fr.max_area_fraction = fraction;
    CHECK(ids(filtered(fr)) == ids(filtered(px)));
  }
  AmgConfig c;
  c.min_area_fraction = 0.07;
  CHECK(ids(filtered(c)) == std::vector<int>{0, 2, 4, 5});
}

TEST_CASE("max_masks_per_image keeps the top k by its sort, ties by the reference order", "[amg][filters]") {
  AmgConfig c;
  c.max_masks_per_image = 3;
  FilterFunnel f;
  // predicted_iou (the default): 0.99, then the tie 0.97 / 0.97 both fit.
  CHECK(ids(filtered(c, &f)) == std::vector<int>{0, 1, 2});
  CHECK(f.after_max_masks == 3);
  c.max_masks_per_image = 2;  // the tie at 0.97: the earlier record (1) wins
  CHECK(ids(filtered(c)) == std::vector<int>{0, 1});

  // area: 9000, then the tie 5000 (2) / 5000 (5); the kept masks stay in their order.
  c.max_masks_by = MaskSort::kArea;
  CHECK(ids(filtered(c)) == std::vector<int>{2, 4});
  c.max_masks_per_image = 3;
  CHECK(ids(filtered(c)) == std::vector<int>{2, 4, 5});

  // stability_score: 0.99 (1) and 0.99 (3) tie; NaN ranks last.
  c.max_masks_by = MaskSort::kStabilityScore;
  c.max_masks_per_image = 2;
  CHECK(ids(filtered(c)) == std::vector<int>{1, 3});
  c.max_masks_per_image = 5;
  CHECK(ids(filtered(c)) == std::vector<int>{0, 1, 3, 4, 5});

  // reference: the first k as generated.
  c.max_masks_by = MaskSort::kReference;
  c.max_masks_per_image = 2;
  CHECK(ids(filtered(c)) == std::vector<int>{0, 1});

  // More room than masks: nothing dropped, the stage still reported.
  c.max_masks_per_image = 10;
  FilterFunnel g;
  CHECK(ids(filtered(c, &g)).size() == 6);
  CHECK(g.after_max_masks == 6);
}

TEST_CASE("sort_by orders the output, highest first, ties in the reference order", "[amg][filters]") {
  AmgConfig c;
  c.sort_by = MaskSort::kArea;
  CHECK(has_mask_filters(c));
  FilterFunnel f;
  CHECK(ids(filtered(c, &f)) == std::vector<int>{4, 2, 5, 0, 1, 3});
  CHECK(f.final_masks == 6);
  CHECK_FALSE(f.after_max_masks);
  c.sort_by = MaskSort::kStabilityScore;
  CHECK(ids(filtered(c)) == std::vector<int>{1, 3, 5, 4, 0, 2});
  c.sort_by = MaskSort::kPredictedIou;
  CHECK(ids(filtered(c)) == std::vector<int>{0, 1, 2, 3, 4, 5});

  // After the filters: max_masks by IoU picks, sort_by orders what was picked.
  c.sort_by = MaskSort::kArea;
  c.max_masks_per_image = 3;
  c.min_area = 200;
  FilterFunnel g;
  CHECK(ids(filtered(c, &g)) == std::vector<int>{2, 0, 1});
  CHECK(g.after_min_area == 5);
  CHECK(g.after_max_masks == 3);
  CHECK(g.final_masks == 3);
}

TEST_CASE("Summed funnels keep the filter stages", "[amg][filters]") {
  FilterFunnel a, b;
  a.after_min_area = 3;
  b.after_min_area = 4;
  FilterFunnel total;
  total += a;
  total += b;
  CHECK(total.after_min_area == 7);
  CHECK_FALSE(total.after_max_masks);
}

TEST_CASE("AmgConfig::validate refuses filters that cannot make sense", "[amg][filters][config]") {
  auto message = [](const AmgConfig& c) -> std::string {
    try {
      c.validate();
    } catch (const UsageError& e) {
      return e.what();
    }
    return "";
  };
  AmgConfig c;
  c.min_area = -1;
  CHECK(message(c).find("min_area") != std::string::npos);
  c = AmgConfig{};
  c.max_area_fraction = 1.5;
  CHECK(message(c).find("max_area_fraction") != std::string::npos);
  c = AmgConfig{};
  c.min_area = 500;
  c.max_area = 400;
  CHECK(message(c).find("above max_area") != std::string::npos);
  c = AmgConfig{};
  c.min_area_fraction = 0.2;
  c.max_area_fraction = 0.1;
  CHECK(message(c).find("above max_area_fraction") != std::string::npos);
  c = AmgConfig{};
  c.max_masks_per_image = -2;
  CHECK(message(c).find("max_masks_per_image") != std::string::npos);
  c = AmgConfig{};
  c.min_area = 500;
  c.max_area_fraction = 1.0;
  c.max_masks_per_image = 1;
  CHECK(message(c).empty());
}
