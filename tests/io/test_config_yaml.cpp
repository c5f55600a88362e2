#include "common/error.h"
#include "io/run_config.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;

namespace {

std::string load_error(const std::string& yaml) {
  RunConfig c;
  try {
    load_yaml_config_text(yaml, "run.yaml", c);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("YAML: the printed config loads back to the same config", "[io][config]") {
  RunConfig c;
  c.amg.points_per_side.reset();
  c.amg.point_grids = {{{0.25, 0.5}, {0.1, 0.3}}, {{0.5, 0.5}}};
  c.amg.crop_n_layers = 1;
  c.amg.pred_iou_thresh = 0.7;
  c.amg.stability_score_offset = 0.7;
  c.amg.output_mode = OutputMode::kCocoRle;
  c.amg.use_m2m = true;
  c.amg.min_mask_region_mode = SmallRegionMode::kSam1FullRes;
  c.io.input = {"a b.png", "dir/with \"quotes\""};
  c.io.out = "masks.json";
  c.io.max_image_pixels = 12345;
  const std::string yaml = to_yaml(c);

  RunConfig back;
  load_yaml_config_text(yaml, "printed", back);
  CHECK(to_yaml(back) == yaml);
  CHECK_FALSE(back.amg.points_per_side.has_value());
  CHECK(back.amg.point_grids == c.amg.point_grids);
  CHECK(back.amg.crop_overlap_ratio == 512.0 / 1500.0);  // shortest repr round-trips exactly
  CHECK(back.io.input == c.io.input);
  CHECK(back.amg.min_mask_region_mode == SmallRegionMode::kSam1FullRes);
  CHECK(to_yaml(RunConfig{}).find("pred_iou_thresh: 0.8\n") != std::string::npos);
}

TEST_CASE("YAML: the output filters load, print, and are recorded only when set", "[io][config][filters]") {
  RunConfig c;
  load_yaml_config_text(
      "min_area: 500\nmax_area_fraction: 0.25\nmax_masks_per_image: 7\nmax_masks_by: area\n"
      "sort_by: stability_score\n",
      "f.yaml", c);
  CHECK(c.amg.min_area == 500);
  CHECK(c.amg.max_area_fraction == 0.25);
  CHECK(c.amg.max_masks_per_image == 7);
  CHECK(c.amg.max_masks_by == MaskSort::kArea);
  CHECK(c.amg.sort_by == MaskSort::kStabilityScore);
  const std::string all = to_yaml(c), recorded = to_yaml(c, YamlKeys::kRecorded);
  // Both forms load back to the same config.
  for (const std::string& text : {all, recorded}) {
    RunConfig back;
    load_yaml_config_text(text, "printed", back);
    CHECK(to_yaml(back) == all);
  }
  // The recorded form leaves out exactly the filters that are off.
  CHECK(all.find("\nmin_area_fraction: 0.0\n") != std::string::npos);
  CHECK(recorded.find("\nmin_area_fraction:") == std::string::npos);
  CHECK(recorded.find("\nmax_area:") == std::string::npos);
  CHECK(recorded.find("\nmin_area: 500\n") != std::string::npos);
  CHECK(recorded.find("\nmax_masks_by: \"area\"\n") != std::string::npos);
  CHECK(recorded.find("\nsort_by: \"stability_score\"\n") != std::string::npos);
  // Without filters the recorded config is the full one minus the filter entries (comment and key).
  std::string expected = to_yaml(RunConfig{});
  for_each_amg_param([&](const char* name, auto, const char* help) {
    if (!is_output_filter_param(name)) return;
    const std::string entry = std::string("# ") + help + "\n" + name + ": ";
    const size_t at = expected.find(entry);
    REQUIRE(at != std::string::npos);
    expected.erase(at, expected.find('\n', at + entry.size()) + 1 - at);
  });
  CHECK(to_yaml(RunConfig{}, YamlKeys::kRecorded) == expected);
  CHECK(expected.find("min_mask_region_mode: sam2\n# ") != std::string::npos);
  CHECK(load_error("max_masks_by: iou\n").find("run.yaml:1: max_masks_by") != std::string::npos);
}

TEST_CASE("YAML: only the keys a file sets change", "[io][config]") {
  RunConfig c;
  c.amg.box_nms_thresh = 0.5;
  load_yaml_config_text("pred_iou_thresh: 0.6\ncrop_overlap_ratio: 512/1500\n", "x.yaml", c);
  CHECK(c.amg.pred_iou_thresh == 0.6);
  CHECK(c.amg.box_nms_thresh == 0.5);
  CHECK(c.amg.crop_overlap_ratio == 512.0 / 1500.0);
  // point_grids without points_per_side means "use the grids", as on the command line.
  load_yaml_config_text("point_grids: [[[0.5, 0.5]]]\n", "x.yaml", c);
  CHECK_FALSE(c.amg.points_per_side.has_value());
  CHECK_NOTHROW(c.amg.validate());
}

TEST_CASE("YAML: a point grid list with no grid is an error, unless points_per_side is set too", "[io][config]") {
  CHECK(load_error("crop_n_layers: 0\npoint_grids: []\n") ==
        "run.yaml:2: point_grids holds no grid: give one grid of [x, y] points per crop layer, or leave point_grids "
        "out to use points_per_side");
  RunConfig c;
  load_yaml_config_text("points_per_side: 16\npoint_grids: []\n", "x.yaml", c);  // as --print-config writes it
  CHECK(c.amg.points_per_side == 16);
  CHECK_NOTHROW(c.amg.validate());
  load_yaml_config_text("point_grids: null\n", "x.yaml", c);  // null sets no grid and chooses nothing
  CHECK(c.amg.points_per_side == 16);
}

TEST_CASE("YAML: unknown, duplicate and mistyped keys are errors with a line", "[io][config]") {
  CHECK(load_error("points_per_side: 16\npoints_per_sid: 8\n") ==
        "run.yaml:2: unknown key 'points_per_sid'; did you mean 'points_per_side'?");
  CHECK(load_error("pred_iou_thresh: 0.7\nbox_nms_thresh: 0.5\npred_iou_thresh: 0.9\n") ==
        "run.yaml:3: duplicate key 'pred_iou_thresh' (first set on line 1)");
  CHECK(load_error("\n\nstability_score_thresh: high\n") ==
        "run.yaml:3: stability_score_thresh: expected a number, got 'high'");
  CHECK(load_error("use_m2m: yes\n") == "run.yaml:1: use_m2m: expected true or false, got 'yes'");
  CHECK(load_error("crop_n_layers: 1.5\n") == "run.yaml:1: crop_n_layers: expected an integer, got '1.5'");
  CHECK(load_error("min_mask_region_mode: sam3\n").find("expected sam2 or sam1") != std::string::npos);
  CHECK(load_error("points: [1, 2\n").find("run.yaml:2: YAML syntax error") == 0);
  CHECK(load_error("- a\n- b\n").find("expected a mapping") != std::string::npos);
  CHECK(closest_config_key("outdir") == "out_dir");
  CHECK(closest_config_key("stabilty_score_tresh") == "stability_score_thresh");
}

TEST_CASE("YAML: every preset in configs/ loads and validates", "[io][config]") {
  for (const char* name : {"sam2-defaults", "sam1-like", "sam2-notebook-tuned", "dense", "fast"}) {
    INFO(name);
    RunConfig c;
    load_yaml_config(std::string(SAM2AMG_SOURCE_DIR) + "/configs/" + name + ".yaml", c);
    CHECK_NOTHROW(c.amg.validate());
    if (std::string(name) == "sam2-defaults") CHECK(to_yaml(c) == to_yaml(RunConfig{}));
    if (std::string(name) == "sam2-notebook-tuned") {
      CHECK(c.amg.points_per_side == 64);
      CHECK(c.amg.points_per_batch == 128);
      CHECK(c.amg.pred_iou_thresh == 0.7);
      CHECK(c.amg.stability_score_thresh == 0.92);
      CHECK(c.amg.stability_score_offset == 0.7);
      CHECK(c.amg.crop_n_layers == 1);
      CHECK(c.amg.crop_n_points_downscale_factor == 2);
      CHECK(c.amg.min_mask_region_area == 25);
      CHECK(c.amg.use_m2m);
    }
  }
}

TEST_CASE("YAML: word-valued keys are parsed when loaded, with the line", "[io][config]") {
  CHECK(load_error("exif: sideways\n") == "run.yaml:1: exif: invalid exif = 'sideways': expected apply or ignore");
  CHECK(load_error("precision: fp8\n") ==
        "run.yaml:1: precision: invalid precision = 'fp8': expected auto, fp32, bf16 or fp16");
  CHECK(load_error("postprocess: 3\n") ==
        "run.yaml:1: postprocess: invalid postprocess = '3': expected fused or reference");
  RunConfig c;
  load_yaml_config_text("device: cuda:1\nprecision: bf16\nexif: ignore\noutput_mode: coco_rle\n", "x.yaml", c);
  CHECK(c.io.device.kind() == DeviceKind::kCuda);
  CHECK(c.io.device.index() == 1);
  CHECK(c.io.precision == Precision::kBf16);
  CHECK(c.io.exif == ExifMode::kIgnore);
  CHECK(c.amg.output_mode == OutputMode::kCocoRle);
  const std::string yaml = to_yaml(c);
  CHECK(yaml.find("\ndevice: \"cuda:1\"\n") != std::string::npos);
  CHECK(yaml.find("\nexif: \"ignore\"\n") != std::string::npos);
  CHECK(yaml.find("\nmin_mask_region_mode: sam2\n") != std::string::npos);
  // An unknown device is a model error (exit 3), as when the model is loaded on it.
  RunConfig d;
  try {
    load_yaml_config_text("device: gpu\n", "run.yaml", d);
    FAIL("expected a ModelError");
  } catch (const ModelError& e) {
    CHECK(e.exit_code() == 3);
    CHECK(std::string(e.what()) == "run.yaml:1: device: invalid device 'gpu': use auto, cpu, cuda or cuda:N");
  }
}

TEST_CASE("YAML: a --config that names a folder is an error, not an empty config", "[io][config]") {
  test::TempDir dir;
  RunConfig c;
  try {
    load_yaml_config(dir.path(), c);
    FAIL("a folder was read as a config");
  } catch (const UsageError& e) {
    CHECK(std::string(e.what()).find("config file '" + dir.path() + "' is a folder") != std::string::npos);
  }
}

TEST_CASE("YAML: a path that is not UTF-8 prints and loads back byte for byte", "[io][config]") {
  // Found by fuzzing: printing such a config (every output records it) threw an untyped error.
  RunConfig c;
  load_yaml_config_text("out: \"caf\xe9.json\"\ninput: [\"a\\tb\\u0001.png\"]\n", "run.yaml", c);
  CHECK(c.io.out == "caf\xe9.json");
  CHECK(c.io.input == std::vector<std::string>{"a\tb\x01.png"});
  const std::string printed = to_yaml(c);
  CHECK(printed.find("\nout: \"caf\xe9.json\"\n") != std::string::npos);
  CHECK(printed.find("\ninput: [\"a\\tb\\u0001.png\"]\n") != std::string::npos);
  RunConfig back;
  load_yaml_config_text(printed, "printed", back);
  CHECK(back.io.out == c.io.out);
  CHECK(back.io.input == c.io.input);
}
