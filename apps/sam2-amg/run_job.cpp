#include "run_job.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <optional>
#include <chrono>
#include <csignal>

#include "common/error.h"
#include "io/image_reader.h"
#include "io/sha256.h"
#include "io/shards.h"
#include "io/writers.h"
#include "pipeline/mask_generator.h"
#include "progress.h"

#ifndef SAM2AMG_VERSION
#define SAM2AMG_VERSION "0.0.0"
#endif

namespace sam2amg::cli {

namespace {

std::atomic<int> g_signal{0};

// The first signal ends the run after the current image; a second one kills at once.
extern "C" void on_signal(int sig) {
  g_signal = sig;
  std::signal(sig, SIG_DFL);
}

}  // namespace

namespace {

// A shard's commit marker: next to its COCO file, else in its output folder, else its JSONL.
std::string done_marker(const IoOptions& io, const Shard& shard) {
  if (!io.out.empty()) return shard_done_path(io.out, shard);
  if (!io.out_dir.empty()) return io.out_dir + "/" + shard_label(shard) + ".done.json";
  return shard_done_path(io.jsonl, shard);
}

// Written last, atomically: a shard whose marker exists is complete.
void write_done_marker(const std::string& path, const Shard& shard, size_t images, size_t masks, size_t failed,
                       const Provenance& provenance) {
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wb");
  if (!f) throw OutputError(tmp, "cannot create the shard's done marker");
  std::fprintf(f, "{\"shard\": %d, \"count\": %d, \"images\": %zu, \"masks\": %zu, \"unreadable\": %zu, "
                  "\"model_sha256\": \"%s\"}\n",
               shard.index, shard.count, images, masks, failed, provenance.model_sha256.c_str());
  const bool ok = std::fflush(f) == 0;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) throw OutputError(path, "cannot write the shard's done marker");
}

}  // namespace

void log_skipped(const InputFile& input, const ImageReadError& error) {
  if (error.path().empty())
    spdlog::warn("skipped '{}': {}", input.path, error.what());
  else
    spdlog::warn("skipped: {}", error.what());
}

int run_job(const RunConfig& run_config, const JobOptions& options) {
  RunConfig config = run_config;
  IoOptions& io = config.io;
  if (io.model.empty()) throw UsageError("no model: give --model FILE (or `model:` in the config)");
  if (io.input.empty() && io.input_list.empty()) throw UsageError("no input: give --input PATH... or --input-list FILE");
  if (io.out.empty() && io.out_dir.empty() && io.jsonl.empty())
    throw UsageError("no output: give --out FILE.json, --out-dir DIR or --jsonl FILE|-");

  std::vector<InputFile> inputs = collect_inputs(io);
  if (inputs.empty()) throw UsageError("no images found in the given inputs");

  // A shard works on its own subset, writes its own files and commits them with a marker; a
  // requeued shard resumes, and one whose marker exists is already done.
  const std::optional<Shard> shard = resolve_shard(io.shard, io.shard_count);
  std::string marker;
  if (shard) {
    inputs = inputs_of_shard(inputs, *shard);
    marker = done_marker(io, *shard);
    if (!io.out.empty()) io.out = shard_path(io.out, *shard);
    if (!io.jsonl.empty() && io.jsonl != "-") io.jsonl = shard_path(io.jsonl, *shard);
    io.resume = true;
    spdlog::info("{}: {} inputs", shard_label(*shard), inputs.size());
    if (std::FILE* f = std::fopen(marker.c_str(), "rb")) {
      std::fclose(f);
      spdlog::info("{} is already complete ({} exists)", shard_label(*shard), marker);
      return 0;
    }
  }

  MaskGenerator generator(io.model, config.amg, ModelOptions{io.device, io.precision, io.threads});
  generator.set_postprocess(parse_postprocess(io.postprocess));
  spdlog::info("model: {}", generator.describe());
  // The recorded config is the one that reproduces the output: resuming does not change it.
  RunConfig recorded = config;
  recorded.io.resume = false;
  const Provenance provenance{SAM2AMG_VERSION, io.model, sha256_file(io.model), to_yaml(recorded), io.exif};
  const SegmentationFormat format = segmentation_format(config.amg.output_mode, io.polygons);

  std::vector<std::unique_ptr<MaskWriter>> writers;
  if (!io.out.empty()) writers.push_back(make_coco_writer(io.out, format, provenance, io.resume));
  if (!io.out_dir.empty())
    writers.push_back(make_per_image_writer(io.out_dir, config.amg.output_mode, format, io.overlay, provenance, inputs));
  if (!io.jsonl.empty()) writers.push_back(make_jsonl_writer(io.jsonl, format, provenance, io.resume));

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_signal);  // Slurm's warning before a time-limit kill (--signal=B:USR1@120)
  std::signal(SIGPIPE, SIG_IGN);    // a closed --jsonl - reader becomes a write error (exit 5)

  const ReadOptions read_options{io.exif == "apply", io.max_image_pixels};
  Progress progress(Progress::mode_for(options.progress, options.quiet), inputs.size());
  size_t done = 0, failed = 0, skipped = 0, masks = 0;
  FilterFunnel total;
  const auto t0 = std::chrono::steady_clock::now();
  for (const InputFile& input : inputs) {
    if (g_signal) break;
    // Resume: an image every writer already has is not redone.
    bool all_done = io.resume;
    for (const auto& w : writers) all_done = all_done && w->done(input);
    if (all_done) {
      ++skipped;
      progress.update(++done, masks, failed);
      continue;
    }
    try {
      const ImageU8 image = read_image_rgb(input.path, read_options);
      FilterFunnel funnel;
      const std::vector<MaskRecord> records = generator.generate(image, &funnel);
      total += funnel;
      const ImageInfo info{input, image.width, image.height, io.stats ? &funnel : nullptr};
      for (const auto& w : writers)
        if (!io.resume || !w->done(input)) w->write(info, image, records);
      masks += records.size();
      spdlog::debug("{}: {} masks", input.path, records.size());
    } catch (const ImageReadError& e) {
      ++failed;
      progress.interrupt();
      log_skipped(input, e);
    }
    progress.update(++done, masks, failed);
  }
  const bool complete = !g_signal;
  if (!complete) progress.interrupt();
  for (const auto& w : writers) w->finish(complete);
  if (complete && shard) write_done_marker(marker, *shard, done, masks, failed, provenance);

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("{} images ({} resumed), {} masks, {} unreadable, {:.2f} s", done, skipped, masks, failed, secs);
  if (io.stats) {
    // Which filter removed the masks: the run's funnel, stage by stage.
    std::string table = "filter funnel (candidates kept per stage, all images):";
    for (const auto& [name, count] : funnel_stages(total)) table += fmt::format("\n  {:<16} {:>10}", name, count);
    spdlog::info("{}", table);
  }
  if (!complete) {
    spdlog::warn("interrupted by signal {}: outputs hold the finished images; rerun with --resume to continue",
                 g_signal.load());
    return 128 + g_signal;
  }
  return failed ? static_cast<int>(ExitCode::kImage) : 0;
}

}  // namespace sam2amg::cli
