// sam2-amg: parse flags, set up logging, run the job; errors become exit codes.
#include <fcntl.h>
#include <malloc.h>
#include <unistd.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>

#include "cli.h"
#include "common/printable.h"
#include "common/error.h"
#include "io/run_config.h"
#include "model/runtime.h"
#include "model/synthetic_model.h"
#include "run_job.h"
#include "bench.h"
#include "tune.h"
#include "merge_cmd.h"
#include "completion.h"
#include "version.h"

using namespace sam2amg;

int main(int argc, char** argv) {
  // Decoder outputs and activations are large and short-lived. glibc's default maps and unmaps
  // each one (page faults every batch); keeping everything in the heap instead fragments it
  // (a SAM 2.1-tiny run reached 8.6 GB). Blocks from 64 MiB up are mapped, smaller ones reused.
  mallopt(M_MMAP_THRESHOLD, 64 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);

  // A closed stdin/stdout/stderr would let the next file we open take its number, and logs or
  // JSON lines would land in an output file.
  for (int fd = 0; fd <= 2; ++fd)
    if (fcntl(fd, F_GETFD) == -1) open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);

  CLI::App app{"sam2-amg"};
  cli::CliState state;
  cli::setup_cli(app, state);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ExtrasError& e) {
    std::fprintf(stderr, "%s\n", cli::unexpected_arguments_message(app, app.remaining(true)).c_str());
    return static_cast<int>(ExitCode::kUsage);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return static_cast<int>(ExitCode::kUsage);
  }

  // Logs and progress go to stderr only; stdout is reserved for --jsonl - and --print-config.
  const bool color = !state.no_color && !std::getenv("NO_COLOR");
  spdlog::set_default_logger(spdlog::stderr_color_mt("sam2-amg", color ? spdlog::color_mode::automatic
                                                                        : spdlog::color_mode::never));
  spdlog::set_pattern("%^[%l]%$ %v");
  spdlog::set_level(state.quiet ? spdlog::level::warn : state.verbose ? spdlog::level::debug : spdlog::level::info);
  if (state.version) {
    std::fputs(cli::version_text().c_str(), stdout);
    return 0;
  }
  if (app.got_subcommand("completion")) {
    std::fputs(cli::bash_completion(app, state).c_str(), stdout);
    return 0;
  }
  try {
    if (app.got_subcommand("make-synthetic-model")) {
      write_synthetic_model(state.synthetic_model_path);
      spdlog::info("wrote synthetic model {}", printable(state.synthetic_model_path));
      return 0;
    }
    const RunConfig config = cli::effective_config(state);
    if (state.print_config) {
      std::fputs(to_yaml(config).c_str(), stdout);
      return 0;
    }
    if (state.dry_run) {
      if (app.get_subcommands().size() > 0)
        throw UsageError("--dry-run checks a run; " + app.get_subcommands()[0]->get_name() + " has no dry run");
      return cli::dry_run(config);
    }
    // Commands that run the model, before they touch anything (model/runtime.h says why).
    if (!app.got_subcommand("merge")) restart_with_passive_thread_pools(argv);
    if (app.got_subcommand("tune")) return cli::run_tune(config, state.tune, state.quiet);
    if (app.got_subcommand("merge")) return cli::run_merge(config);
    if (app.got_subcommand("bench")) return cli::run_bench(config, state.bench);
    return cli::run_job(config, {state.progress, state.quiet});
  } catch (const ReaderGoneError& e) {
    return e.exit_code();  // quietly, as a pipeline's writer ends when its reader has gone
  } catch (const Error& e) {
    spdlog::error("{}", e.what());
    return e.exit_code();
  } catch (const std::filesystem::filesystem_error& e) {
    spdlog::error("file system error: {}", printable(e.what()));  // it names files
    return static_cast<int>(ExitCode::kOutput);
  } catch (const std::exception& e) {
    // Untyped: device failures arrive typed (DeviceError), so this is a bug to report.
    spdlog::error("internal error: {}; please report it", e.what());
    return static_cast<int>(ExitCode::kInternal);
  }
}
