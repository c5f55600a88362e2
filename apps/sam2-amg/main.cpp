// sam2-amg: parse flags, load the model, run every image, write one COCO file.
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <malloc.h>

#include <chrono>
#include <filesystem>

#include "cli.h"
#include "common/error.h"
#include "io/coco_writer.h"
#include "io/image_reader.h"
#include "model/synthetic_model.h"
#include "pipeline/mask_generator.h"

using namespace sam2amg;

static int run_job(const CLI::App& app, const cli::CliOptions& opts, AmgConfig config) {
  if (opts.model_path.empty() || opts.inputs.empty() || opts.out_json.empty())
    throw UsageError("--model, --input and --out are required (see sam2-amg --help)");
  cli::finalize_config(app, opts, config);
  const std::vector<std::string> inputs = collect_inputs(opts.inputs);
  if (inputs.empty()) throw UsageError("no images found in the given --input paths");

  MaskGenerator generator(opts.model_path, config, ModelOptions{opts.device});
  spdlog::info("model: {}", generator.describe());
  CocoWriter writer(opts.out_json, {config.output_mode, "sam2-amg masks; model " + generator.describe()});

  int failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const std::string& path = inputs[i];
    try {
      const ImageU8 image = read_image_rgb(path);
      const auto records = generator.generate(image);
      writer.add_image(std::filesystem::path(path).filename().string(), image.width, image.height, records);
      spdlog::info("[{}/{}] {}: {} masks", i + 1, inputs.size(), path, records.size());
    } catch (const ImageReadError& e) {
      ++failed;
      spdlog::warn("skipped: {}", e.what());
    }
  }
  writer.close();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  spdlog::info("wrote {}: {} images, {} masks, {} skipped, {:.2f} s", opts.out_json, writer.image_count(),
               writer.annotation_count(), failed, secs);
  return failed ? static_cast<int>(ExitCode::kImage) : 0;
}

int main(int argc, char** argv) {
  // Mask tensors are large and short-lived; glibc's default hands each one back to the kernel
  // and pays page faults to get it again. Keeping freed memory in the heap halves CPU run time.
  mallopt(M_MMAP_THRESHOLD, 1 << 30);
  mallopt(M_TRIM_THRESHOLD, 1 << 30);
  spdlog::set_default_logger(spdlog::stderr_color_st("sam2-amg"));
  spdlog::set_pattern("%^[%l]%$ %v");
  CLI::App app{"sam2-amg"};
  cli::CliOptions opts;
  AmgConfig config;
  cli::setup_cli(app, opts, config);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ExitCode::kUsage);
  }
  spdlog::set_level(opts.quiet ? spdlog::level::warn : opts.verbose ? spdlog::level::debug : spdlog::level::info);
  try {
    if (app.got_subcommand("make-synthetic-model")) {
      write_synthetic_model(opts.synthetic_model_path);
      spdlog::info("wrote synthetic model {}", opts.synthetic_model_path);
      return 0;
    }
    return run_job(app, opts, config);
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const std::exception& e) {
    spdlog::error("internal error: {}", e.what());
    return static_cast<int>(ExitCode::kInternal);
  }
}
