#include "bench.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <sstream>

#include "common/error.h"
#include "image_loop.h"
#include "io/bench_json.h"
#include "io/image_reader.h"
#include "io/inputs.h"
#include "io/writers.h"
#include "pipeline/mask_generator.h"
#include "subcommands.h"
#include "version.h"

#ifndef SAM2AMG_VERSION
#define SAM2AMG_VERSION "0.0.0"
#endif

namespace sam2amg::cli {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::int64_t peak_rss_bytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss) * 1024;
}

double median(std::vector<double> v) { return percentile(std::move(v), 50); }

// A folder of the bench's own under the system's temporary folder, removed with the files named
// through file(): one unlink each, no recursive removal (pytorch/pytorch#133437).
class ScratchDir {
 public:
  ScratchDir() {
    std::string pattern = (fs::temp_directory_path() / "sam2-amg-bench-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw OutputError(pattern, "cannot create a temporary folder");
    path_ = pattern;
  }
  ~ScratchDir() {
    for (const std::string& f : files_) ::unlink(f.c_str());
    ::rmdir(path_.c_str());
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const {
    const std::string f = path_ + "/" + name;
    if (std::find(files_.begin(), files_.end(), f) == files_.end()) files_.push_back(f);
    return f;
  }

 private:
  std::string path_;
  mutable std::vector<std::string> files_;
};

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string mib(std::int64_t bytes) {
  if (bytes < 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f MiB", bytes / 1048576.0);
  return buf;
}

// The AMG parameters in one line, in the reference's order.
std::string parameters_line(const AmgConfig& c) {
  std::ostringstream os;
  os << "points_per_side " << (c.points_per_side ? std::to_string(*c.points_per_side) : "none (point_grids)")
     << ", points_per_batch " << c.points_per_batch << ", pred_iou_thresh " << c.pred_iou_thresh
     << ", stability_score_thresh " << c.stability_score_thresh << ", stability_score_offset "
     << c.stability_score_offset << ", mask_threshold " << c.mask_threshold << ", box_nms_thresh " << c.box_nms_thresh
     << ", crop_n_layers " << c.crop_n_layers << ", crop_nms_thresh " << c.crop_nms_thresh
     << ", min_mask_region_area " << c.min_mask_region_area << ", use_m2m " << (c.use_m2m ? "true" : "false")
     << ", multimask_output " << (c.multimask_output ? "true" : "false");
  return os.str();
}

ReferenceBench run_reference(const RunConfig& config, const BenchOptions& options,
                             const std::vector<InputFile>& inputs, const ScratchDir& scratch) {
  const std::string yaml = scratch.file("run.yaml"), report = scratch.file("reference.json");
  {
    std::FILE* f = std::fopen(yaml.c_str(), "wb");
    const std::string text = to_yaml(config);
    if (!f || std::fwrite(text.data(), 1, text.size(), f) != text.size() || std::fclose(f) != 0)
      throw OutputError(yaml, "cannot write the reference's parameters");
  }
  std::string cmd = options.reference + " --amg-config " + shell_quote(yaml) + " --json " + shell_quote(report) +
                    " --repeat " + std::to_string(options.repeat) + " --images";
  for (const InputFile& in : inputs) cmd += " " + shell_quote(in.path);
  spdlog::info("reference: {}", cmd);
  std::fflush(stdout);
  const int status = std::system(cmd.c_str());
  if (status != 0)
    throw UsageError("the reference bench failed (status " + std::to_string(status) +
                     "): check the --reference command (python3 scripts/bench_reference.py --checkpoint C --config t)");
  return read_reference_bench(report);
}

void print_report(const BenchReport& r) {
  std::printf("sam2-amg bench\nsetup:\n");
  for (const auto& [k, v] : r.setup) std::printf("  %-16s %s\n", (k + ":").c_str(), v.c_str());
  std::printf("per image (median of the timed runs, seconds; total = prepare + model, read and write apart):\n");
  const std::vector<BenchStageName> stages = bench_stages();
  std::printf("  %-28s %11s %6s %8s", "image", "size", "masks", "total");
  for (const BenchStageName& stage : stages) std::printf(" %*s", stage.width, stage.heading);
  std::printf(" %5s %5s\n", "reads", "syncs");
  for (const BenchImage& im : r.images) {
    const std::string name = fs::path(im.path).filename().string();
    const std::string size = std::to_string(im.width) + "x" + std::to_string(im.height);
    const std::string syncs = im.device_syncs < 0 ? "-" : std::to_string(im.device_syncs);
    std::printf("  %-28s %11s %6lld %8.3f", name.c_str(), size.c_str(), static_cast<long long>(im.masks),
                median(im.seconds));
    for (const BenchStageName& stage : stages) std::printf(" %*.3f", stage.width, im.median.*stage.seconds);
    std::printf(" %5lld %5s\n", static_cast<long long>(im.host_reads), syncs.c_str());
  }
  const BenchSummary& s = r.summary;
  std::printf("summary:\n  per image      p50 %.3f s, p90 %.3f s\n  folder pass    %.3f images/s\n"
              "  peak memory    host RSS %s, device %s\n",
              s.p50_seconds, s.p90_seconds, s.images_per_second, mib(s.peak_rss_bytes).c_str(),
              mib(s.device_peak_bytes).c_str());
  const BenchLoop& l = r.loop;
  std::printf("  device waits   %lld host reads per image, CUDA sync-debug count %s; stages timed by %s\n",
              static_cast<long long>(l.host_reads_per_image),
              l.device_syncs_per_image < 0 ? "unknown" : std::to_string(l.device_syncs_per_image).c_str(),
              l.stage_clock.c_str());
  std::printf("paths:\n");
  for (const auto& [part, name] : l.paths) std::printf("  %-18s %s\n", (part + ":").c_str(), name.c_str());
  std::printf("funnel (candidates kept per stage, one pass):\n");
  for (const auto& [name, count] : funnel_stages(r.funnel))
    std::printf("  %-16s %10lld\n", name, static_cast<long long>(count));
  if (!r.has_reference) return;
  const ReferenceBench& ref = r.reference;
  std::printf("reference (SAM2AutomaticMaskGenerator, same images and parameters, this invocation):\n"
              "  setup          torch %s, device %s, %d threads, BLAS %s\n"
              "  per image      p50 %.3f s (encoder %.3f s), p90 %.3f s\n  folder pass    %.3f images/s\n"
              "  peak memory    host RSS %s, device %s\n  masks          %lld (sam2-amg: %lld)\n",
              ref.torch_version.c_str(), ref.device.c_str(), ref.threads, ref.blas.c_str(), ref.summary.p50_seconds,
              ref.summary.p50_encoder_seconds, ref.summary.p90_seconds, ref.summary.images_per_second,
              mib(ref.summary.peak_rss_bytes).c_str(), mib(ref.summary.device_peak_bytes).c_str(),
              static_cast<long long>(ref.summary.masks_total), static_cast<long long>(s.masks_total));
  std::printf("ratio (reference / sam2-amg):\n  p50 time       %.2fx\n  images/s       %.2fx (sam2-amg / reference)\n"
              "  peak host RSS  %.2f\n",
              s.p50_seconds > 0 ? ref.summary.p50_seconds / s.p50_seconds : 0.0,
              ref.summary.images_per_second > 0 ? s.images_per_second / ref.summary.images_per_second : 0.0,
              s.peak_rss_bytes > 0 ? double(ref.summary.peak_rss_bytes) / s.peak_rss_bytes : 0.0);
}

}  // namespace

int run_bench(const RunConfig& config, const BenchOptions& options) {
  const IoOptions& io = config.io;
  const std::vector<InputFile> inputs = require_io(Subcommand::kBench, io);
  if (options.repeat < 1) throw UsageError("--repeat must be at least 1");
  if (options.warmup < 0) throw UsageError("--warmup must be at least 0");

  MaskGenerator generator = make_generator(config);
  const ReadOptions read = read_options(io);
  ScratchDir scratch;
  const SegmentationFormat format = segmentation_format(config.amg.output_mode, io.polygons);
  const Provenance provenance{SAM2AMG_VERSION, io.model, "", to_yaml(config, YamlKeys::kRecorded), enum_name(io.exif),
                              ShardIdentity{}, runtime_versions()};

  // Warm-up: first-call costs (allocator, kernels, profiling) are not what a long run pays.
  if (options.warmup > 0) {
    const ImageU8 first = read_image_rgb(inputs[0].path, read);
    for (int i = 0; i < options.warmup; ++i) generator.generate(first);
  }
  generator.reset_peak_device_bytes();

  BenchReport report;
  std::vector<double> all_seconds, encoder_seconds;
  for (const InputFile& input : inputs) {
    BenchImage im;
    im.path = input.path;
    std::vector<BenchStages> runs;
    for (int rep = 0; rep < options.repeat; ++rep) {
      // A fresh writer per run, so every run serialises and writes the same line.
      auto writer = make_jsonl_writer(scratch.file("timing.jsonl"), format, provenance, /*resume=*/false);
      BenchStages st;
      const auto t0 = Clock::now();
      auto image = std::make_shared<const ImageU8>(read_image_rgb(input.path, read));
      st.read = seconds_since(t0);
      // What a run's image waits for: the decode threads' share, then the model's; a run
      // overlaps reading and writing with the model (the folder pass below measures that).
      const auto tp = Clock::now();
      const PreparedImage prepared = generator.prepare(image);
      st.prepare = seconds_since(tp);
      StageTimes times;
      const std::vector<MaskRecord> records = generator.generate(prepared, nullptr, &times);
      const double total = seconds_since(tp);
      const auto tw = Clock::now();
      writer->write({input, image->width, image->height, nullptr}, *image, records);
      writer->finish(true);
      st.write = seconds_since(tw);
      im.host_reads = times.host_reads;
      im.device_syncs = times.device_syncs;
      if (times.device_events) report.loop.stage_clock = "cuda events";
      static_cast<StageSeconds&>(st) = times;  // the model's stages
      im.seconds.push_back(total);
      all_seconds.push_back(total);
      encoder_seconds.push_back(times.encoder);
      im.width = image->width;
      im.height = image->height;
      im.masks = static_cast<std::int64_t>(records.size());
      runs.push_back(st);
    }
    auto med = [&](double BenchStages::*f) {
      std::vector<double> v;
      for (const BenchStages& r : runs) v.push_back(r.*f);
      return median(v);
    };
    for (const BenchStageName& stage : bench_stages()) im.median.*stage.seconds = med(stage.seconds);
    report.loop.host_reads_per_image = std::max(report.loop.host_reads_per_image, im.host_reads);
    report.loop.device_syncs_per_image = std::max(report.loop.device_syncs_per_image, im.device_syncs);
    report.images.push_back(std::move(im));
  }

  // A pass over the folder as `run` makes it (read, model and write, as the run loop overlaps
  // them), for images per second.
  {
    auto writer = make_jsonl_writer(scratch.file("folder.jsonl"), format, provenance, /*resume=*/false);
    const auto t0 = Clock::now();
    std::int64_t masks = 0;
    ImageLoopHooks hooks;
    hooks.prepare = [&](std::shared_ptr<const ImageU8> image) { return generator.prepare(std::move(image)); };
    hooks.process = [&](const InputFile& input, const PreparedImage& prepared) -> Commit {
      const std::shared_ptr<const ImageU8> image = prepared.shared_image();
      FilterFunnel f;
      std::vector<MaskRecord> records = generator.generate(prepared, &f);
      report.funnel += f;
      masks += static_cast<std::int64_t>(records.size());
      return [&writer, input, image, records = std::move(records)] {
        writer->write({input, image->width, image->height, nullptr}, *image, records);
      };
    };
    const LoopCounts counts = for_each_image(inputs, read, hooks);
    writer->finish(true);
    const double wall = seconds_since(t0);
    report.summary.images_per_second = wall > 0 ? double(counts.handled - counts.unreadable) / wall : 0.0;
    report.summary.masks_total = masks;
  }
  report.summary.p50_seconds = percentile(all_seconds, 50);
  report.summary.p90_seconds = percentile(all_seconds, 90);
  report.summary.p50_encoder_seconds = percentile(encoder_seconds, 50);
  report.summary.peak_rss_bytes = peak_rss_bytes();
  report.summary.device_peak_bytes = generator.peak_device_bytes();
  report.loop.paths = generator.execution_paths();

  std::string sizes;
  for (const BenchImage& im : report.images)
    sizes += (sizes.empty() ? "" : ", ") + std::to_string(im.width) + "x" + std::to_string(im.height);
  report.setup = {{"sam2-amg", SAM2AMG_VERSION},
                  {"runtime", generator.runtime()},
                  {"model", generator.describe()},
                  {"post-processing", enum_name(io.postprocess)},
                  {"parameters", parameters_line(config.amg)},
                  {"images", std::to_string(inputs.size()) + " (" + sizes + ")"},
                  {"runs", std::to_string(options.repeat) + " timed per image, after " +
                               std::to_string(options.warmup) + " warm-up run(s) on the first"}};
  if (!options.reference.empty()) {
    report.reference = run_reference(config, options, inputs, scratch);
    report.has_reference = true;
  }
  print_report(report);
  std::fflush(stdout);
  if (!options.json.empty()) write_bench_json(options.json, report);
  return 0;
}

}  // namespace sam2amg::cli
