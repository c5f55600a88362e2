#include "tune.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <map>

#include "common/error.h"
#include "image_loop.h"
#include "io/overlay.h"
#include "pipeline/mask_generator.h"
#include "pipeline/sweep_setting.h"
#include "subcommands.h"

namespace sam2amg::cli {

namespace {

std::vector<SweepSetting> settings_for(const AmgConfig& c, const TuneOptions& t) {
  auto or_default = [](const std::vector<double>& v, double d) { return v.empty() ? std::vector<double>{d} : v; };
  std::vector<SweepSetting> out;
  for (double p : or_default(t.pred_iou_thresh, c.pred_iou_thresh))
    for (double s : or_default(t.stability_score_thresh, c.stability_score_thresh))
      for (double o : or_default(t.stability_score_offset, c.stability_score_offset))
        for (double b : or_default(t.box_nms_thresh, c.box_nms_thresh)) out.push_back({p, s, o, b});
  return out;
}

}  // namespace

int run_tune(const RunConfig& config, const TuneOptions& tune, bool quiet) {
  const IoOptions& io = config.io;
  const std::vector<InputFile> inputs = require_io(Subcommand::kTune, io);
  const std::vector<SweepSetting> settings = settings_for(config.amg, tune);
  for (int row : tune.overlay_rows)
    if (row < 1 || row > static_cast<int>(settings.size()))
      throw UsageError("--overlay-rows " + std::to_string(row) + " is not a row of the table (1.." +
                       std::to_string(settings.size()) + ")");
  if (!tune.overlay_rows.empty() && io.overlay_dir.empty()) throw UsageError("--overlay-rows needs --overlay-dir");
  // Per row, each input's picture: <overlay-dir>/<stem>.row<N>.png.
  std::map<int, std::map<std::string, std::string>> overlay_files;
  for (int row : tune.overlay_rows)
    overlay_files[row] = overlay_paths(io.overlay_dir, inputs, ".row" + std::to_string(row) + ".png");

  MaskGenerator generator = make_generator(config);
  if (!quiet) spdlog::info("model: {}; {} settings over {} images", generator.describe(), settings.size(), inputs.size());
  std::vector<std::int64_t> masks(settings.size(), 0);
  std::vector<double> area(settings.size(), 0.0);
  ImageLoopHooks hooks;
  hooks.process = [&](const InputFile& input, const PreparedImage& prepared) -> Commit {
    const ImageU8& image = prepared.image();
    const auto results = generator.sweep(image, settings);
    for (size_t k = 0; k < settings.size(); ++k) {
      masks[k] += static_cast<std::int64_t>(results[k].size());
      for (const MaskRecord& r : results[k]) area[k] += static_cast<double>(r.area);
    }
    for (int row : tune.overlay_rows) {
      const std::string& file = overlay_files[row].at(input.path);
      std::filesystem::create_directories(std::filesystem::path(file).parent_path());
      write_overlay(file, image, results[row - 1], OverlayStyle{io.overlay_scores});
    }
    return {};
  };
  const LoopCounts n = for_each_image(inputs, read_options(io), hooks);
  const size_t images = n.handled - n.unreadable, failed = n.unreadable;
  // The result is the table: stdout.
  std::printf("%4s %16s %23s %23s %15s %8s %12s %12s\n", "row", "pred_iou_thresh", "stability_score_thresh",
              "stability_score_offset", "box_nms_thresh", "masks", "masks/image", "mean_area");
  for (size_t k = 0; k < settings.size(); ++k) {
    const SweepSetting& s = settings[k];
    std::printf("%4zu %16g %23g %23g %15g %8lld %12.2f %12.1f\n", k + 1, s.pred_iou_thresh, s.stability_score_thresh,
                s.stability_score_offset, s.box_nms_thresh, static_cast<long long>(masks[k]),
                images ? double(masks[k]) / images : 0.0, masks[k] ? area[k] / masks[k] : 0.0);
  }
  std::fflush(stdout);
  return failed ? static_cast<int>(ExitCode::kImage) : 0;
}

}  // namespace sam2amg::cli
