#include "run_job.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <future>
#include <csignal>
#include <cstdio>
#include <map>

#include "common/error.h"
#include "common/printable.h"
#include "image_loop.h"
#include "io/sha256.h"
#include "io/outputs.h"
#include "io/overlay.h"
#include "pipeline/mask_generator.h"
#include "progress.h"
#include "subcommands.h"
#include "version.h"

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

const char* signal_name(int sig) {
  switch (sig) {
    case SIGINT: return "SIGINT";
    case SIGTERM: return "SIGTERM";
    case SIGUSR1: return "SIGUSR1";
  }
  return "a signal";
}

// What the run's outputs record of it. `all_inputs`: the whole run's; `assigned`: the shard's count.
Provenance run_provenance(const RunConfig& config, const OutputPaths& paths, const std::optional<Shard>& shard,
                          const std::vector<InputFile>& all_inputs, size_t assigned, const std::string& model_sha256) {
  RunConfig recorded = config;
  recorded.io = recorded_io(config.io, paths);
  // A shard records what it is, so that merge can prove it is the shard its name says, of this run.
  ShardIdentity identity;
  if (shard) identity = {shard->index, shard->count, inputs_sha256(all_inputs), all_inputs.size(), assigned};
  return Provenance{SAM2AMG_VERSION, config.io.model, model_sha256, to_yaml(recorded, YamlKeys::kRecorded),
                    enum_name(config.io.exif), identity, runtime_versions()};
}

}  // namespace

int run_job(const RunConfig& config, const JobOptions& options) {
  const IoOptions& io = config.io;
  std::vector<UnreadableInput> skipped_entries;  // folder entries that are not usable files
  std::vector<InputFile> inputs = require_io(Subcommand::kRun, io, &skipped_entries);

  // A shard works on its own subset; a requeued shard resumes, and a committed one is done.
  const std::optional<Shard> shard = resolve_shard(io.shard, io.shard_count);
  const OutputPaths paths = plan_outputs(io, shard, config.amg.output_mode);
  // Before any work: this run alone writes its outputs, and they clobber nothing.
  OutputGuard guard(paths, inputs, io.input_list);
  // Per-image names come from the whole input list, so shards sharing --out-dir never collide.
  const std::vector<InputFile> all_inputs = inputs;
  if (shard) {
    inputs = inputs_of_shard(inputs, *shard);
    spdlog::info("{}: {} inputs", shard_label(*shard), inputs.size());
    if (shard_committed(paths)) {
      spdlog::info("{} is already complete ({} exists)", shard_label(*shard), printable(paths.done_marker));
      return 0;
    }
  }

  // Hashing a large model takes seconds: it overlaps loading it, and is cached per file.
  std::future<std::string> model_sha256 = std::async(std::launch::async, [&] { return sha256_file_cached(io.model); });
  MaskGenerator generator = make_generator(config);
  spdlog::info("model: {}", generator.describe());
  const Provenance provenance = run_provenance(config, paths, shard, all_inputs, inputs.size(), model_sha256.get());
  RunOutputs outputs(paths, config.amg.output_mode, segmentation_format(config.amg.output_mode, io.polygons),
                     OverlayStyle{io.overlay_scores}, provenance, all_inputs, &guard);

  std::signal(SIGINT, on_signal);
  std::signal(SIGTERM, on_signal);
  std::signal(SIGUSR1, on_signal);  // Slurm's warning before a time-limit kill (--signal=B:USR1@120)
  std::signal(SIGPIPE, SIG_IGN);    // a closed --jsonl - reader is seen as EPIPE: the run ends quietly, 141
  std::signal(SIGXFSZ, SIG_IGN);    // so does a file size limit (ulimit -f), instead of a kill

  Progress progress(Progress::mode_for(options.progress, options.quiet), inputs.size());
  size_t masks = 0;
  FilterFunnel total;
  const auto t0 = std::chrono::steady_clock::now();
  ImageLoopHooks hooks;
  hooks.stop = [] { return g_signal != 0; };
  hooks.already_done = [&](const InputFile& input) { return outputs.done(input); };
  hooks.prepare = [&](std::shared_ptr<const ImageU8> image) { return generator.prepare(std::move(image)); };
  hooks.process = [&](const InputFile& input, const PreparedImage& prepared) -> Commit {
    // An input whose output cannot be named is skipped by name, never the whole run.
    if (const std::string why = outputs.name_problem(input, io.stats); !why.empty()) throw ImageError(why);
    const std::shared_ptr<const ImageU8> image = prepared.shared_image();
    FilterFunnel funnel;
    std::vector<MaskRecord> records = generator.generate(prepared, &funnel);
    total += funnel;
    masks += records.size();
    spdlog::debug("{}: {} masks", printable(input.path), records.size());
    // Written by the loop's writer thread, in input order, while the model works on the next.
    return [&outputs, &io, input, image, funnel, records = std::move(records)] {
      outputs.write({input, image->width, image->height, io.stats ? &funnel : nullptr}, *image, records);
    };
  };
  hooks.before_warning = [&] { progress.interrupt(); };
  hooks.after_each = [&](const LoopCounts& n) { progress.update(n.handled, masks, n.unreadable); };
  const LoopCounts n = for_each_image(inputs, read_options(io), hooks);
  const size_t done = n.handled, failed = n.unreadable, skipped = n.done_before;
  const bool complete = !g_signal;
  if (!complete) progress.interrupt();
  RunEnd end;
  end.complete = complete;
  if (!complete) end.stopped_by = signal_name(g_signal);
  end.unreadable = n.unreadable_inputs;
  end.skipped_entries = skipped_entries;
  outputs.finish(end, {done, masks, failed});

  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const std::string entries =
      skipped_entries.empty() ? "" : fmt::format(", {} folder entries skipped (-v lists them)", skipped_entries.size());
  spdlog::info("{} images ({} resumed), {} masks, {} unreadable{}, {:.2f} s", done, skipped, masks, failed, entries,
               secs);
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

int dry_run(const RunConfig& config) {
  const IoOptions& io = config.io;
  std::vector<InputFile> inputs = require_io(Subcommand::kRun, io);
  const std::optional<Shard> shard = resolve_shard(io.shard, io.shard_count);
  const OutputPaths paths = plan_outputs(io, shard, config.amg.output_mode);
  check_outputs(paths, inputs, io.input_list);
  const std::vector<InputFile> all_inputs = inputs;
  if (shard) inputs = inputs_of_shard(inputs, *shard);
  const MaskGenerator generator = make_generator(config);
  // Resuming: the writers' checks of what they would continue (another model or config: exit 2).
  if (paths.resume)
    check_resumable_outputs(paths, run_provenance(config, paths, shard, all_inputs, inputs.size(),
                                                  sha256_file_cached(io.model)));

  // The listing is the result: stdout. Every row of the outputs table, overlays named per input.
  const std::vector<OutputRow> table = output_table(paths, inputs);
  std::map<std::string, std::string> overlays;
  if (!paths.overlay_dir.empty()) overlays = overlay_paths(paths.overlay_dir, inputs);
  std::string out = "model: " + io.model + " (" + generator.describe() + ")\n";
  if (shard) out += "shard: " + shard_label(*shard) + "\n";
  out += "inputs: " + std::to_string(inputs.size()) + "\n";
  for (const InputFile& in : inputs) {
    out += "  " + printable(in.path);
    if (!overlays.empty()) out += "  -> " + printable(overlays.at(in.path));
    out += "\n";
  }
  out += "outputs:\n";
  const std::string state = paths.resume ? "resumed if present" : paths.overwrite ? "replaced if present" : "new";
  for (const OutputRow& row : table) {
    if (row.kind == OutputRow::Kind::kStdout) {
      out += "  " + row.flag + " - (stdout)\n";
      continue;
    }
    const bool main = row.role == OutputRow::Role::kOutput;
    out += "  " + row.flag + (main ? "" : " " + row.what) + " " + printable(row.path) +
           (main ? " (" + state + ")" : row.role == OutputRow::Role::kLock ? " (while running)" : "") + "\n";
  }
  out += shard && shard_committed(paths) ? "the shard is already complete: a run would exit at once\n" : "";
  out += "dry run: nothing written\n";
  std::fputs(out.c_str(), stdout);
  std::fflush(stdout);
  return 0;
}

}  // namespace sam2amg::cli
