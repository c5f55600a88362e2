#pragma once
/// What each subcommand needs from the I/O options, stated in one place.
#include <vector>

#include "io/inputs.h"
#include "io/run_config.h"

namespace sam2amg::cli {

enum class Subcommand { kRun, kTune, kMerge, kBench };

/// Checks that the I/O options give what `cmd` needs and collects the images it works on:
///   run          a model, inputs holding at least one image, and an output (--out, --out-dir
///                or --jsonl);
///   tune, bench  a model and inputs holding at least one image;
///   merge        --out or --out-dir (it reads no images: returns none).
/// Folder entries that could not be used are logged at debug level (-v) and appended to
/// `skipped` when given. Throws UsageError naming the missing flag.
std::vector<InputFile> require_io(Subcommand cmd, const IoOptions& io, std::vector<UnreadableInput>* skipped = nullptr);

}  // namespace sam2amg::cli
