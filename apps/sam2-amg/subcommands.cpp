#include "subcommands.h"

#include <string>

#include "common/error.h"

namespace sam2amg::cli {

std::vector<InputFile> require_io(Subcommand cmd, const IoOptions& io) {
  switch (cmd) {
    case Subcommand::kRun: {
      if (io.model.empty()) throw UsageError("no model: give --model FILE (or `model:` in the config)");
      if (io.input.empty() && io.input_list.empty())
        throw UsageError("no input: give --input PATH... or --input-list FILE");
      if (io.out.empty() && io.out_dir.empty() && io.jsonl.empty() && io.yolo.empty())
        throw UsageError("no output: give --out FILE.json, --out-dir DIR, --jsonl FILE|- or --yolo DIR");
      std::vector<InputFile> inputs = collect_inputs(io);
      if (inputs.empty()) throw UsageError("no images found in the given inputs");
      return inputs;
    }
    case Subcommand::kTune:
    case Subcommand::kBench: {
      const std::string name = cmd == Subcommand::kTune ? "tune" : "bench";
      if (io.model.empty()) throw UsageError(name + " needs --model FILE");
      std::vector<InputFile> inputs = collect_inputs(io);
      if (inputs.empty()) throw UsageError(name + " needs --input images");
      return inputs;
    }
    case Subcommand::kMerge:
      if (io.out.empty() && io.out_dir.empty()) throw UsageError("merge needs --out F.json and/or --out-dir DIR");
      return {};
  }
  return {};
}

}  // namespace sam2amg::cli
