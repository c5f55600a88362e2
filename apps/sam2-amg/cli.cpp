#include "cli.h"

#include <algorithm>
#include <optional>
#include <type_traits>

#include "common/enum_names.h"
#include "common/error.h"
#include "io/point_grids_file.h"

namespace sam2amg::cli {

namespace {

// "--points-per-side,--points_per_side" for the name "points_per_side".
std::string flag_names(const std::string& snake, const std::string& extra = "") {
  std::string kebab = snake;
  for (char& c : kebab)
    if (c == '_') c = '-';
  std::string names = "--" + kebab;
  if (kebab != snake) names += ",--" + snake;
  return extra.empty() ? names : extra + "," + names;
}

// Short spellings: -m, -i. No -o: it would read as --output, which is SAM 1 amg.py's name for
// the per-image folder (--out-dir), not the COCO file (--out).
std::string extra_names(const std::string& name) {
  if (name == "model") return "-m";
  if (name == "input") return "-i";
  return "";
}

// SAM 1's spelling goes last, so help and messages name the option --out-dir.
std::string io_flag_names(const std::string& name) {
  const std::string names = flag_names(name, extra_names(name));
  return name == "out_dir" ? names + ",--output" : names;
}

std::string io_flag_help(const std::string& name, const char* help) {
  if (name == "out_dir") return std::string(help) + ". --output is SAM 1 amg.py's name for this folder (there is no -o)";
  return help;
}

template <typename T>
CLI::Option* add_value(CLI::App& app, const std::string& names, T& ref, const std::string& help) {
  if constexpr (std::is_same_v<T, bool>) {
    // --use-m2m, --use-m2m=false, --no-multimask-output
    std::string n = names;
    const std::string first = names.substr(2, names.find(',') == std::string::npos ? std::string::npos : names.find(',') - 2);
    n += ",!--no-" + first;
    return app.add_flag(n, ref, help + (ref ? " (default: true)" : " (default: false)"));
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    return app.add_option(names, ref, help);
  } else {
    return app.add_option(names, ref, help)->capture_default_str();
  }
}

// An option whose values are the names of enum E: checked against its table while the flags are
// parsed (the message is parse_enum's), then stored in `ref`.
template <typename E>
CLI::Option* add_enum(CLI::App& app, CliState& s, const std::string& names, E& ref, const std::string& help) {
  std::string choices;
  std::vector<std::string> words;
  for (const std::string& name : enum_spellings<E>()) {
    choices += (choices.empty() ? "{" : ",") + name;
    words.push_back(name);
  }
  const CLI::Validator names_of_e(
      [](std::string& value) {
        try {
          parse_enum<E>(value);
          return std::string();
        } catch (const UsageError& e) {
          return std::string(e.what());
        }
      },
      choices + "}");
  CLI::Option* opt =
      app.add_option_function<std::string>(names, [&ref](const std::string& value) { ref = parse_enum<E>(value); }, help)
          ->default_str(enum_name(ref))
          ->check(names_of_e);
  s.choices[opt] = words;
  return opt;
}

// Every long and short name of the app's options and its subcommands', with dashes.
std::vector<std::string> all_flag_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::Option* opt : app.get_options()) {
    for (const std::string& n : opt->get_lnames()) names.push_back("--" + n);
    for (const std::string& n : opt->get_snames()) names.push_back("-" + n);
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const std::vector<std::string> more = all_flag_names(*sub);
    names.insert(names.end(), more.begin(), more.end());
  }
  return names;
}

}  // namespace

void setup_cli(CLI::App& app, CliState& s) {
  app.description(
      "SAM 2 automatic mask generation (\"segment everything\") over images.\n"
      "AMG parameters mean exactly what they mean in SAM2AutomaticMaskGenerator.");
  app.require_subcommand(0, 1);
  app.add_option("-c,--config", s.config_file, "YAML config; flags given on the command line override it");
  app.add_flag("--print-config", s.print_config, "Print the effective config as YAML and exit");
  app.add_flag("--version", s.version, "Print the version, its git revision and the LibTorch runtime, and exit");
  app.add_flag("--dry-run", s.dry_run,
               "Check a run without running it: validate the config, list the inputs and output paths, check that "
               "the outputs can be written, load the model; then exit, writing nothing");
  app.add_flag("-q,--quiet", s.quiet, "Only warnings and errors on stderr");
  app.add_flag("-v,--verbose", s.verbose, "Debug logging on stderr");
  app.add_flag("--no-color", s.no_color, "No colours on stderr (NO_COLOR is honoured too)");
  add_enum(app, s, "--progress", s.progress, "auto, bar, lines or none");

  const char* amg = "AMG parameters (SAM2AutomaticMaskGenerator)";
  for_each_amg_param([&](const char* name, auto member, const char* help) {
    using T = std::decay_t<decltype(s.flags.amg.*member)>;
    CLI::Option* opt = nullptr;
    std::function<void(const CliState&, RunConfig&)> copy;
    if constexpr (std::is_same_v<T, std::optional<int>>) {
      opt = app.add_option(flag_names(name), s.points_per_side, help)->capture_default_str();
      copy = [](const CliState& st, RunConfig& c) { c.amg.points_per_side = st.points_per_side; };
    } else if constexpr (std::is_same_v<T, std::vector<PointGrid>>) {
      opt = app.add_option(flag_names(name), s.point_grids_file, std::string(help) + " (JSON file; default: none)");
      copy = [](const CliState& st, RunConfig& c) { c.amg.point_grids = read_point_grids(st.point_grids_file); };
    } else if constexpr (has_enum_names_v<T>) {
      opt = add_enum(app, s, flag_names(name), s.flags.amg.*member, help);
      copy = [member](const CliState& st, RunConfig& c) { c.amg.*member = st.flags.amg.*member; };
    } else {
      opt = add_value(app, flag_names(name), s.flags.amg.*member, help);
      copy = [member](const CliState& st, RunConfig& c) { c.amg.*member = st.flags.amg.*member; };
    }
    opt->group(is_output_filter_param(name) ? "Output filters (sam2-amg extensions, off by default)" : amg);
    s.overrides.emplace_back(opt, std::move(copy));
  });
  for_each_io_param([&](const char* name, auto member, const char* help) {
    using T = std::decay_t<decltype(s.flags.io.*member)>;
    const std::string names = io_flag_names(name);
    const std::string help_text = io_flag_help(name, help);
    CLI::Option* opt = nullptr;
    std::function<void(const CliState&, RunConfig&)> copy;
    if constexpr (std::is_same_v<T, Device>) {
      // An unknown device is a model error (exit 3), raised with the other config errors.
      opt = app.add_option(names, s.device, help_text)->default_str(s.flags.io.device.str());
      copy = [](const CliState& st, RunConfig& c) { c.io.device = Device(st.device); };
    } else if constexpr (has_enum_names_v<T>) {
      opt = add_enum(app, s, names, s.flags.io.*member, help_text);
      copy = [member](const CliState& st, RunConfig& c) { c.io.*member = st.flags.io.*member; };
    } else {
      opt = add_value(app, names, s.flags.io.*member, help_text);
      copy = [member](const CliState& st, RunConfig& c) { c.io.*member = st.flags.io.*member; };
    }
    opt->group("Inputs and outputs");
    s.overrides.emplace_back(opt, std::move(copy));
  });

  auto* tune = app.add_subcommand(
      "tune", "Run the model once per image and print mask counts for every combination of the given threshold "
              "values (same results as separate runs); all other flags apply");
  tune->fallthrough();
  tune->add_option("--pred-iou-thresh-values", s.tune.pred_iou_thresh, "Values of pred_iou_thresh to try")
      ->delimiter(',');
  tune->add_option("--stability-score-thresh-values", s.tune.stability_score_thresh,
                   "Values of stability_score_thresh to try")
      ->delimiter(',');
  tune->add_option("--stability-score-offset-values", s.tune.stability_score_offset,
                   "Values of stability_score_offset to try")
      ->delimiter(',');
  tune->add_option("--box-nms-thresh-values", s.tune.box_nms_thresh, "Values of box_nms_thresh to try")->delimiter(',');
  tune->add_option("--overlay-rows", s.tune.overlay_rows, "Rows of the table to draw into --overlay-dir, e.g. 1,4")
      ->delimiter(',');

  auto* bench = app.add_subcommand(
      "bench", "Time this configuration on the inputs: stages, p50/p90 per image, images/s, peak memory, the "
               "setup; with --reference, the official generator on the same images in the same run, and the ratio");
  bench->fallthrough();
  bench->add_option("--repeat", s.bench.repeat, "Timed runs per image")->capture_default_str();
  bench->add_option("--warmup", s.bench.warmup, "Untimed runs on the first image before timing")->capture_default_str();
  bench->add_option("--reference", s.bench.reference,
                    "Command prefix of the reference bench, e.g. \"python3 scripts/bench_reference.py --checkpoint "
                    "ckpt.pt --config t --device cpu\"; --amg-config, --images, --json and --repeat are appended");
  bench->add_option("--bench-json", s.bench.json, "Also write the report as JSON here");

  auto* merge = app.add_subcommand(
      "merge", "Combine the shard COCO files of --out F.json into F.json (ids renumbered, input order), the shard "
               "files of --jsonl F.jsonl into F.jsonl, or check the shards of --out-dir DIR; exit 6 listing missing "
               "or unfinished shards, exit 2 naming a shard that is not what its name says or not of this run");
  merge->fallthrough();
  // merge's options are the run's (given before or after `merge`); its help lists them.
  std::string merge_options = "Options (given before or after merge):\n";
  for (const char* name : {"--out", "--out-dir", "--jsonl", "--shard-count", "--config", "--quiet", "--verbose", "--no-color"}) {
    const CLI::Option* opt = app.get_option(name);
    merge_options += "  " + opt->get_name(false, true) + "\n      " + opt->get_description() + "\n";
  }
  merge->footer(merge_options);

  auto* completion = app.add_subcommand(
      "completion", "Print a shell completion script: eval \"$(sam2-amg completion bash)\" (make install also puts it "
                    "in share/bash-completion/completions)");
  s.choices[completion->add_option("shell", s.completion_shell, "bash")->required()->check(CLI::IsMember({"bash"}))] = {
      "bash"};

  auto* make = app.add_subcommand("make-synthetic-model", "Write the synthetic test model (docs/model-contract.md)");
  make->add_option("file", s.synthetic_model_path, "Output .pt file")->required();
}

std::string unexpected_arguments_message(const CLI::App& app, const std::vector<std::string>& extras) {
  const std::vector<std::string> names = all_flag_names(app);
  auto is_flag = [](const std::string& a) { return a.size() >= 2 && a[0] == '-'; };
  // Words after an unknown flag are its values: only the flag is reported then.
  const bool any_flag = std::any_of(extras.begin(), extras.end(), is_flag);
  std::string msg;
  for (const std::string& arg : extras) {
    if (any_flag && !is_flag(arg)) continue;
    if (!msg.empty()) msg += "\n";
    if (!is_flag(arg)) {
      msg += "unexpected argument '" + arg + "' (inputs go after --input)";
      continue;
    }
    const std::string flag = arg.substr(0, arg.find('='));
    if (flag == "-o") {
      msg += "unknown flag '-o': give --out F.json for the COCO file, or --out-dir DIR (SAM 1: --output) for "
             "per-image files";
      continue;
    }
    msg += "unknown flag '" + flag + "'";
    const auto [best, distance] = closest_name(flag, names);
    // A hint only when it is close: a third of the name may differ.
    if (!best.empty() && distance <= std::max<size_t>(2, flag.size() / 3)) msg += "; did you mean '" + best + "'?";
  }
  return msg + "\nRun with --help for the flags.";
}

RunConfig effective_config(const CliState& s) {
  RunConfig c;
  if (!s.config_file.empty()) load_yaml_config(s.config_file, c);
  bool pps_given = false, grids_given = false;
  for (const auto& [opt, copy] : s.overrides) {
    if (opt->count() == 0) continue;
    copy(s, c);
    pps_given = pps_given || opt->check_name("--points-per-side");
    grids_given = grids_given || opt->check_name("--point-grids");
  }
  apply_prompt_choice(c.amg, pps_given, grids_given, "--point-grids " + s.point_grids_file);
  c.amg.validate();
  validate_io(c.io);
  return c;
}

}  // namespace sam2amg::cli
