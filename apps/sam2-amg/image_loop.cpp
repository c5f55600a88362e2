#include "image_loop.h"

#include <spdlog/spdlog.h>

#include "image_failure.h"

namespace sam2amg::cli {

ModelOptions model_options(const IoOptions& io) { return {io.device, io.precision, io.threads}; }

ReadOptions read_options(const IoOptions& io) { return {io.exif == "apply", io.max_image_pixels}; }

MaskGenerator make_generator(const RunConfig& config) {
  MaskGenerator generator(config.io.model, config.amg, model_options(config.io));
  generator.set_postprocess(parse_postprocess(config.io.postprocess));
  generator.set_warning_handler([](const std::string& w) { spdlog::warn("{}", w); });
  spdlog::debug("runtime: {}", generator.runtime());
  return generator;
}

void log_skipped(const InputFile& input, const ImageError& error) {
  if (dynamic_cast<const ImageReadError*>(&error))
    spdlog::warn("skipped: {}", error.what());  // the message names the file
  else
    spdlog::warn("skipped '{}': {}", input.path, error.what());
}

LoopCounts for_each_image(const std::vector<InputFile>& inputs, const ReadOptions& read, const ImageLoopHooks& hooks) {
  LoopCounts n;
  for (const InputFile& input : inputs) {
    if (hooks.stop && hooks.stop()) break;
    if (hooks.already_done && hooks.already_done(input)) {
      ++n.done_before;
    } else {
      try {
        hooks.process(input, read_image_rgb(input.path, read));
      } catch (const ImageError& e) {
        ++n.unreadable;
        if (hooks.before_warning) hooks.before_warning();
        log_skipped(input, e);
      } catch (const std::exception& e) {
        const std::optional<ImageError> failure = per_image_failure(e);  // e.g. this image needs too much memory
        if (!failure) throw;
        ++n.unreadable;
        if (hooks.before_warning) hooks.before_warning();
        log_skipped(input, *failure);
      }
    }
    ++n.handled;
    if (hooks.after_each) hooks.after_each(n);
  }
  return n;
}

}  // namespace sam2amg::cli
