#pragma once
/// Command-line surface: every RunConfig field as a flag, plus the app's own switches.
#include <CLI/CLI.hpp>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "io/run_config.h"
#include "bench.h"
#include "progress.h"
#include "tune.h"

namespace sam2amg::cli {

struct CliState {
  RunConfig flags;                  ///< values bound to the flags (only given ones are used)
  std::string config_file;          ///< --config
  bool print_config = false;        ///< --print-config
  bool version = false;             ///< --version
  bool dry_run = false;             ///< --dry-run
  std::string completion_shell;     ///< completion SHELL
  bool quiet = false;
  bool verbose = false;
  bool no_color = false;
  ProgressSetting progress = ProgressSetting::kAuto;  ///< --progress
  std::string synthetic_model_path; ///< make-synthetic-model FILE
  TuneOptions tune;                 ///< the tune subcommand's own options
  BenchOptions bench;               ///< the bench subcommand's own options
  int points_per_side = 32;         ///< bound separately: the field is optional
  std::string point_grids_file;
  std::string device;               ///< bound separately: parsed when the config is assembled
  /// Copies a given flag's value from `flags` into the effective config.
  std::vector<std::pair<const CLI::Option*, std::function<void(const CliState&, RunConfig&)>>> overrides;
  /// The values of word-valued options (enums), for completion.
  std::map<const CLI::Option*, std::vector<std::string>> choices;
};

/// Declares every flag: AMG parameters named after the Python parameters (kebab-case, the
/// snake_case spelling accepted too), I/O options, config handling, and the subcommands.
void setup_cli(CLI::App& app, CliState& state);

/// The message for arguments the parser did not expect: each unknown flag with the closest flag
/// name (`--pont-per-side` -> `--points-per-side`), as config keys get theirs.
std::string unexpected_arguments_message(const CLI::App& app, const std::vector<std::string>& extras);

/// Defaults, then the --config file, then the flags given on the command line (absent flags
/// never override the file). Validates the result. Throws UsageError.
RunConfig effective_config(const CliState& state);

}  // namespace sam2amg::cli
