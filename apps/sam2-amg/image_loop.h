#pragma once
/// What the subcommands that run the model share: one conversion of the I/O options into model
/// and read options, and one loop over the input images. `run` and `tune` use it; a new
/// subcommand (e.g. a benchmark) plugs its work into `process`.
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "common/error.h"
#include "common/image.h"
#include "io/image_reader.h"
#include "io/inputs.h"
#include "io/run_config.h"
#include "model/model_options.h"
#include "pipeline/mask_generator.h"

namespace sam2amg::cli {

/// The model options of a run (device, precision, threads).
ModelOptions model_options(const IoOptions& io);

/// How a run decodes its images (EXIF, pixel limit).
ReadOptions read_options(const IoOptions& io);

/// The run's generator: the model loaded with model_options(), the post-processing design of
/// the config, and the generator's warnings sent to the log.
MaskGenerator make_generator(const RunConfig& config);

/// Logs an input that was skipped, naming it once whether or not the error already does.
void log_skipped(const InputFile& input, const ImageError& error);

/// Logs the decoder's messages about an image it read: accepted damage as a warning, metadata
/// notes at debug level; each names the file.
void log_read_warnings(const InputFile& input, const std::vector<ReadWarning>& warnings);

/// Counts of one pass over the inputs.
struct LoopCounts {
  std::size_t handled = 0;  ///< inputs finished: processed, already done, or unreadable
  std::size_t done_before = 0;  ///< inputs `already_done` said to skip
  std::size_t unreadable = 0;
  std::vector<UnreadableInput> unreadable_inputs;  ///< which, and why (recorded in the outputs)
};

/// Work that `process` hands back to be done on the writer thread, in input order (writing an
/// image's outputs). Empty: nothing to write.
using Commit = std::function<void()>;

/// The caller's part of the loop. Only `process` is required.
struct ImageLoopHooks {
  std::function<bool()> stop;                                      ///< checked before each input
  std::function<bool(const InputFile&)> already_done;              ///< skip it (resume); asked for every input before the loop starts
  /// The host's share of the model's work on a decoded image (MaskGenerator::prepare), run on
  /// the decode thread, overlapped with the model; empty: process() gets the image alone.
  std::function<PreparedImage(std::shared_ptr<const ImageU8>)> prepare;
  /// The model's work on a decoded image; the image is shared so a commit can keep it.
  std::function<Commit(const InputFile&, const PreparedImage&)> process;
  std::function<void()> before_warning;                            ///< e.g. clear a progress bar
  std::function<void(const LoopCounts&)> after_each;               ///< e.g. progress
};

/// Runs every input through `process` in order, as a pipeline: worker threads read, decode and
/// `prepare` the next images while the model works on the current one, and one writer thread runs the
/// returned commits in input order, so the model never waits for disk or JSON. Queues are
/// bounded (a few images in flight). An unusable image (ImageError, from decoding or from
/// `process`) is logged, counted and skipped. Other errors propagate after the commits already
/// handed over are written; a commit's error (OutputError) stops the loop and propagates.
/// After `stop` the finished images are written and the loop returns.
LoopCounts for_each_image(const std::vector<InputFile>& inputs, const ReadOptions& read, const ImageLoopHooks& hooks);

}  // namespace sam2amg::cli
