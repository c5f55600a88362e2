#include "subcommands.h"

#include <spdlog/spdlog.h>

#include <string>

#include "common/error.h"
#include "common/printable.h"
#include "io/outputs.h"

namespace sam2amg::cli {

namespace {

// The inputs, with the folder entries that could not be used logged (and kept for the caller).
std::vector<InputFile> collect_and_log(const IoOptions& io, std::vector<UnreadableInput>* skipped) {
  std::vector<UnreadableInput> entries;
  std::vector<InputFile> inputs = collect_inputs(io, &entries);
  for (const UnreadableInput& e : entries) spdlog::debug("not an input: '{}': {}", printable(e.path), e.reason);
  if (skipped) skipped->insert(skipped->end(), entries.begin(), entries.end());
  return inputs;
}

}  // namespace

std::vector<InputFile> require_io(Subcommand cmd, const IoOptions& io, std::vector<UnreadableInput>* skipped) {
  switch (cmd) {
    case Subcommand::kRun: {
      if (io.model.empty()) throw UsageError("no model: give --model FILE (or `model:` in the config)");
      if (io.input.empty() && io.input_list.empty())
        throw UsageError("no input: give --input PATH... or --input-list FILE");
      if (!has_mask_output(io)) throw UsageError("no output: give " + mask_output_flags());
      std::vector<InputFile> inputs = collect_and_log(io, skipped);
      if (inputs.empty()) throw UsageError("no images found in the given inputs");
      return inputs;
    }
    case Subcommand::kTune:
    case Subcommand::kBench: {
      const std::string name = cmd == Subcommand::kTune ? "tune" : "bench";
      if (io.model.empty()) throw UsageError(name + " needs --model FILE");
      std::vector<InputFile> inputs = collect_and_log(io, skipped);
      if (inputs.empty()) throw UsageError(name + " needs --input images");
      return inputs;
    }
    case Subcommand::kMerge:
      if (io.out.empty() && io.out_dir.empty() && (io.jsonl.empty() || io.jsonl == "-"))
        throw UsageError("merge needs --out F.json, --out-dir DIR and/or --jsonl F.jsonl");
      return {};
  }
  return {};
}

}  // namespace sam2amg::cli
