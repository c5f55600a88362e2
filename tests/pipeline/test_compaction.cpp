// The candidates are post-processed a window at a time and prepared images come from decode
// threads: neither may change a byte of the records, nor the funnel.
#include <future>

#include "common/error.h"
#include "pipeline/mask_generator.h"
#include "support/catch.h"
#include "support/fixtures.h"
#include "support/records.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

std::vector<std::pair<std::string, std::int64_t>> stages(const FilterFunnel& f) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const auto& [name, n] : funnel_stages(f)) out.emplace_back(name, n);
  return out;
}

// A scene whose objects touch crop edges and overlap, so every filter removes something.
ImageU8 busy_scene() {
  return make_image(200, 150, kBlack,
                    {{0, 0, 90, 70, kRed}, {60, 40, 150, 120, kGreen}, {120, 10, 200, 60, kBlue},
                     {30, 100, 110, 150, kWhite}, {140, 90, 190, 140, kYellow}});
}

}  // namespace

TEST_CASE("The compaction window changes no record and no funnel count", "[pipeline][host-reads]") {
  const ImageU8 img = busy_scene();
  struct Case {
    const char* name;
    AmgConfig config;
    Postprocess postprocess = Postprocess::kFused;
  };
  std::vector<Case> cases;
  {
    AmgConfig c;
    c.points_per_side = 12;
    c.points_per_batch = 10;
    c.crop_n_layers = 1;
    cases.push_back({"multimask, one crop layer", c});
    c.multimask_output = false;
    cases.push_back({"single mask (the ATen path)", c});
    c.multimask_output = true;
    c.use_m2m = true;
    cases.push_back({"m2m", c});
    c.use_m2m = false;
    c.crop_n_layers = 0;
    c.pred_iou_thresh = 0;
    c.stability_score_thresh = 0;
    cases.push_back({"no IoU or stability filter", c});
    c.pred_iou_thresh = 0.8;
    c.stability_score_thresh = 0.95;
    c.min_mask_region_area = 20;
    cases.push_back({"low-res hole filling", c});
    c.min_mask_region_area = 0;
    cases.push_back({"reference post-processing", c, Postprocess::kReference});
  }
  for (const Case& k : cases) {
    INFO(k.name);
    MaskGenerator gen(synthetic_model_path(), k.config, {test_device()});
    gen.set_postprocess(k.postprocess);
    gen.set_compaction_window(0);  // after every decoder call, as before windows
    FilterFunnel f0;
    const auto per_batch = gen.generate(img, &f0);
    REQUIRE(per_batch.size() >= 3);
    for (const std::int64_t window : {std::int64_t{1} << 20, std::int64_t{8} << 20, std::int64_t{4} << 30}) {
      INFO("window " << window);
      gen.set_compaction_window(window);
      FilterFunnel f;
      require_same_records(gen.generate(img, &f), per_batch);
      CHECK(stages(f) == stages(f0));
    }
  }
}

TEST_CASE("A window of candidates is one read, not one per decoder call", "[pipeline][host-reads]") {
  AmgConfig c;
  c.points_per_side = 16;
  c.points_per_batch = 8;  // 32 decoder calls
  MaskGenerator gen(synthetic_model_path(), c, {test_device()});
  const ImageU8 img = four_object_scene();
  StageTimes per_call, windowed;
  gen.set_compaction_window(0);
  gen.generate(img, nullptr, &per_call);
  gen.set_compaction_window(std::int64_t{1} << 30);
  gen.generate(img, nullptr, &windowed);
  CHECK(per_call.host_reads >= 32);
  CHECK(windowed.host_reads <= 5);
}

TEST_CASE("A prepared image gives the records of the plain image, prepared on another thread", "[pipeline][prepare]") {
  const ImageU8 img = busy_scene();
  for (const int layers : {0, 2}) {  // 2 layers: 21 crops, more than prepare() preprocesses
    INFO("crop_n_layers " << layers);
    AmgConfig c;
    c.points_per_side = 8;
    c.crop_n_layers = layers;
    const MaskGenerator gen(synthetic_model_path(), c, {test_device()});
    FilterFunnel f0, f1;
    const auto plain = gen.generate(img, &f0);
    REQUIRE(!plain.empty());
    auto image = std::make_shared<const ImageU8>(img);
    // Prepared on a worker while the model runs on this thread, as the run loop does.
    std::future<PreparedImage> ahead = std::async(std::launch::async, [&] { return gen.prepare(image); });
    const auto during = gen.generate(img);
    const PreparedImage prepared = ahead.get();
    CHECK(prepared.prepared());
    CHECK(&prepared.image() == image.get());
    require_same_records(during, plain);
    require_same_records(gen.generate(prepared, &f1), plain);
    CHECK(stages(f1) == stages(f0));
    // An unprepared handle works too.
    require_same_records(gen.generate(PreparedImage(image)), plain);
  }
}

TEST_CASE("prepare() refuses what generate() refuses", "[pipeline][prepare]") {
  AmgConfig c;
  c.crop_n_layers = 2;
  c.points_per_side = 4;
  const MaskGenerator gen(synthetic_model_path(), c, {test_device()});
  CHECK_THROWS_AS(gen.prepare(std::make_shared<const ImageU8>(make_image(5, 5, kBlack, {}))), ImageError);
  CHECK_THROWS_AS(gen.prepare(std::make_shared<const ImageU8>()), ImageError);
}
