#pragma once
/// Provenance, in one place (internal to io/): what every output records about the run that made
/// it, what each per-image output (a JSON-lines line, a per-image JSON, a mask folder) records
/// about its image, and the one rule for what may be mixed in one output when a run resumes:
/// the same model (SHA-256) and the same effective config (SHA-256 of its YAML), and, per image,
/// the same input (io/input_identity.h). The JSON-lines files that start with a run record are
/// io/run_lines.h.
#include <nlohmann/json.hpp>

#include <set>
#include <string>
#include <vector>

#include "io/input_identity.h"
#include "io/inputs.h"
#include "io/writers.h"

namespace sam2amg {

/// SHA-256 of the effective config's YAML: the config's identity in every output.
std::string config_sha256(const Provenance& p);

/// The config SHA-256 a recorded provenance object names: its config_sha256, or for an older
/// version's (only the YAML) the hash of its config; "" when it names none.
std::string recorded_config_sha256(const nlohmann::json& recorded);

/// What every refusal to resume tells the user to do: "; rerun with the same settings, or with
/// --overwrite to start over".
std::string resume_refusal_hint();

/// The run's full provenance: tool, version, model path and SHA-256, EXIF policy, the config's
/// YAML and its SHA-256, and a shard's identity ("shard": index, count, inputs_sha256, inputs,
/// assigned), which merge checks. COCO `info.sam2_amg`, `--out-dir`'s run.json, the JSON-lines
/// run record.
nlohmann::json provenance_json(const Provenance& p);

/// True when two provenance objects (provenance_json or image_provenance_json) name the same
/// model and config: their outputs may be mixed in one file. An object of an older version,
/// with the config but no config_sha256, is hashed here.
bool same_run(const nlohmann::json& a, const nlohmann::json& b);

/// What a per-image output records about its image: {"path", "file_name", "model_sha256",
/// "config_sha256"} (the input as given, its name relative to its folder input, the run's hashes).
nlohmann::json image_provenance_json(const Provenance& p, const InputFile& input);

/// Settings a run records that cannot change its masks: where the inputs come from (input,
/// input_list, recursive, glob), where outputs go (out, out_dir, jsonl, yolo, overlays), resume
/// and overwrite, device, threads, postprocess and stats. Resuming never compares them.
const std::vector<std::string>& run_only_settings();

/// The settings (config keys) whose values differ between a recorded config and this run's, apart
/// from run_only_settings(), each as "key: recorded -> now"; empty when an output of the recorded
/// config may be continued by this run. A config that cannot be read gives {"config"}.
std::vector<std::string> differing_settings(const std::string& recorded_yaml, const std::string& current_yaml);

/// Checks an earlier run's record (provenance_json: COCO info.sam2_amg, run.json, a run record)
/// before this run continues its output. Returns the config_sha256 it recorded (the images it
/// wrote carry that one, which this run accepts as its own). Throws UsageError naming `what`, the
/// model or each differing setting (differing_settings), and how to go on.
std::string check_resumable(const nlohmann::json& recorded, const Provenance& p, const std::string& what);

/// Checks an existing per-image output against this run and `input` before resume counts it as
/// done: true when `recorded` (its image_provenance_json) names this run (this config, or
/// `accepted_config`, an equivalent earlier run's config_sha256) and this input with its content
/// unchanged (`identity`: its input_identity_json); false when the input was rewritten since (the
/// output is recomputed). Throws UsageError (exit 2) naming `output` when it names another model
/// or config, another input (names that shift when the input set grows), or nothing (an output
/// without per-image provenance): its masks must never be attributed to `input`.
bool image_output_matches(const nlohmann::json& recorded, const nlohmann::json& identity, const Provenance& p,
                          const InputFile& input, const std::string& output, const std::string& accepted_config = "");

}  // namespace sam2amg
