#include "cli.h"

#include "common/error.h"
#include "io/point_grids_file.h"

namespace sam2amg::cli {

namespace {

// "--points-per-side,--points_per_side" for the Python name "points_per_side".
std::string flag_names(const std::string& snake) {
  std::string kebab = snake;
  for (char& c : kebab)
    if (c == '_') c = '-';
  return "--" + kebab + ",--" + snake;
}

}  // namespace

void setup_cli(CLI::App& app, CliOptions& opts, AmgConfig& c) {
  app.description(
      "SAM 2 automatic mask generation (\"segment everything\") over images.\n"
      "Parameters mean exactly what they mean in SAM2AutomaticMaskGenerator.");
  app.require_subcommand(0, 1);

  app.add_option("-m,--model", opts.model_path, "TorchScript model (scripts/export_sam2.py, or make-synthetic-model)");
  app.add_option("-i,--input", opts.inputs, "Image files or folders (folder contents sorted by name)");
  app.add_option("-o,--out", opts.out_json, "COCO instances JSON written for the whole run");
  app.add_option("--device", opts.device, "auto, cpu, cuda or cuda:N")->capture_default_str();
  app.add_flag("-q,--quiet", opts.quiet, "Only warnings and errors on stderr");
  app.add_flag("-v,--verbose", opts.verbose, "Debug logging on stderr");

  auto* amg = "AMG parameters (SAM2AutomaticMaskGenerator)";
  app.add_option(flag_names("points_per_side"), opts.points_per_side,
                 "Grid points per side in crop layer 0 (exclusive with --point-grids)")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("points_per_batch"), c.points_per_batch, "Prompts per decoder call (result unchanged)")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("pred_iou_thresh"), c.pred_iou_thresh, "Keep masks with predicted IoU > this")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("stability_score_thresh"), c.stability_score_thresh, "Keep masks with stability >= this")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("stability_score_offset"), c.stability_score_offset,
                 "Logit offset for the stability score")->capture_default_str()->group(amg);
  app.add_option(flag_names("mask_threshold"), c.mask_threshold, "Logit threshold that binarises masks")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("box_nms_thresh"), c.box_nms_thresh, "Box IoU for NMS within a crop")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("crop_n_layers"), c.crop_n_layers, "Crop layers (layer i has 4^i crops)")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("crop_nms_thresh"), c.crop_nms_thresh, "Box IoU for NMS between crops")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("crop_overlap_ratio"), c.crop_overlap_ratio, "Crop overlap, fraction of the short side")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("crop_n_points_downscale_factor"), c.crop_n_points_downscale_factor,
                 "Points per side shrink by this per crop layer")->capture_default_str()->group(amg);
  app.add_option(flag_names("point_grids"), opts.point_grids_file,
                 "JSON file: one list of normalised [x, y] per crop layer (default: none)")->group(amg);
  app.add_option(flag_names("min_mask_region_area"), c.min_mask_region_area,
                 "Remove holes/islands up to this area (0 = off)")->capture_default_str()->group(amg);
  app.add_option(flag_names("output_mode"), c.output_mode, "binary_mask, uncompressed_rle or coco_rle")
      ->capture_default_str()->check(CLI::IsMember({"binary_mask", "uncompressed_rle", "coco_rle"}))->group(amg);
  app.add_option(flag_names("use_m2m"), c.use_m2m, "Refine each mask once with its own mask as prompt (true/false)")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("multimask_output"), c.multimask_output, "Three masks per point (true/false)")
      ->capture_default_str()->group(amg);
  app.add_option(flag_names("min_mask_region_mode"), opts.min_mask_region_mode,
                 "sam2: low-res fill before upsampling (reference); sam1: full-res removal after NMS")
      ->capture_default_str()->check(CLI::IsMember({"sam2", "sam1"}))->group("Extensions");

  auto* make = app.add_subcommand("make-synthetic-model",
                                  "Write the synthetic test model (docs/model-contract.md) to FILE");
  make->add_option("file", opts.synthetic_model_path, "Output .pt file")->required();
}

void finalize_config(const CLI::App& app, const CliOptions& opts, AmgConfig& config) {
  const bool pps_given = app.count("--points-per-side") > 0;
  config.points_per_side = opts.points_per_side;
  if (!opts.point_grids_file.empty()) {
    config.point_grids = read_point_grids(opts.point_grids_file);
    // Python needs points_per_side=None with point_grids; an explicit flag stays a conflict.
    if (!pps_given) config.points_per_side.reset();
  }
  config.min_mask_region_mode = parse_small_region_mode(opts.min_mask_region_mode);
  config.validate();
}

}  // namespace sam2amg::cli
