#pragma once
/// Provenance, in one place (internal to io/): what every output records about the run that made
/// it, what each per-image output (a JSON-lines line, a per-image JSON, a mask folder) records
/// about its image, and the one rule for what may be mixed in one output when a run resumes:
/// the same model (SHA-256) and the same effective config (SHA-256 of its YAML), and, per image,
/// the same input path.
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "io/inputs.h"
#include "io/json_files.h"
#include "io/writers.h"

namespace sam2amg {

/// SHA-256 of the effective config's YAML: the config's identity in every output.
std::string config_sha256(const Provenance& p);

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

/// Percent-escapes every byte outside printable ASCII, and '%': the exact bytes of a name in
/// plain ASCII, whatever its encoding ("a\xff.png" -> "a%FF.png").
std::string escape_bytes(const std::string& bytes);

/// An input's identity across runs, as outputs record it beside the image's provenance:
/// {"key": the canonical path the run de-duplicates by, "path_bytes": the path as given, both
/// escape_bytes; "size", "mtime_ns": its content's size and modification time}. A path that is
/// not UTF-8 is kept exactly by the escaped bytes (the text form replaces what it cannot hold).
nlohmann::json input_identity_json(const InputFile& input);

/// The identity key of `input` (input_identity_json's "key").
std::string input_key(const InputFile& input);

/// What an earlier output recorded about its input, compared with `input` now.
enum class InputMatch {
  kSame,     ///< the same input, content unchanged: done
  kChanged,  ///< the same input, rewritten since (size or mtime differ): recompute it
  kOther,    ///< another input
};

/// The key an earlier record names: its identity's key; from an output without one (an older
/// version's), the canonical form of its recorded `path`.
std::string recorded_input_key(const nlohmann::json& identity, const std::string& recorded_path);

/// Compares a recorded identity (input_identity_json; null for an older output) and path with
/// `input` as it is now.
InputMatch match_input(const nlohmann::json& identity, const std::string& recorded_path, const InputFile& input);

/// Checks an existing per-image output against this run and `input` before resume counts it as
/// done: true when `recorded` (its image_provenance_json) names this run (this config, or
/// `accepted_config`, an equivalent earlier run's config_sha256) and this input with its content
/// unchanged (`identity`: its input_identity_json); false when the input was rewritten since (the
/// output is recomputed). Throws UsageError (exit 2) naming `output` when it names another model
/// or config, another input (names that shift when the input set grows), or nothing (an output
/// without per-image provenance): its masks must never be attributed to `input`.
bool image_output_matches(const nlohmann::json& recorded, const nlohmann::json& identity, const Provenance& p,
                          const InputFile& input, const std::string& output, const std::string& accepted_config = "");

/// The first line of a JSON-lines output (--jsonl, the COCO journal): {"type": "run",
/// "sam2_amg": provenance_json}. Image lines carry {"type": "image", ..., "sam2_amg":
/// image_provenance_json, "input": input_identity_json}; a reader skips every line whose type is
/// not "image".
nlohmann::json run_record(const Provenance& p);

/// A JSON-lines output that starts with a run record (--jsonl, the YOLO manifest), created at its
/// first line so that a run that stops before its first image leaves none: a new file starts
/// with run_record, one resumed (`append`, from resume_run_lines) goes on after its kept lines.
class RunLinesFile {
 public:
  RunLinesFile(std::string path, const Provenance& p);
  bool append = false;
  /// The file, opened (and its run record written) on the first call.
  JsonLinesFile& get();

 private:
  std::string path_;
  nlohmann::json record_;
  std::optional<JsonLinesFile> file_;
};

/// Resumes a JSON-lines output that starts with a run record: false when there is nothing to
/// resume (no file, or no complete first line: the caller starts it afresh). Otherwise checks the
/// run record (check_resumable) and every complete image line against `p`, calls `done` with
/// each line's input key (recorded_input_key) and the line, and cuts a torn last line off. A line
/// whose input was rewritten since (its recorded size or mtime differ from the file's now) is
/// dropped from the file, so that its image is recomputed once, never held twice. Throws UsageError naming `what` when the
/// file holds results of another model or config, or has no run record (another tool's file, or
/// an older version's).
/// `dropped` (when given) is called with the input key of each line dropped so.
bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const std::string& key, const nlohmann::json& line)>& done,
                      const std::function<void(const std::string& key)>& dropped = {});

/// The check resume_run_lines makes of a JSON-lines file's run record, reading only: nothing
/// changes. Throws UsageError as resume_run_lines does; a file with nothing to resume passes.
void check_run_lines_resumable(const std::string& path, const Provenance& p, const std::string& what);

/// True when the input a recorded identity (input_identity_json) names was rewritten since: its
/// size or modification time differ now. A file that is gone, or a record without them, is not.
bool recorded_input_changed(const nlohmann::json& identity);

/// The path bytes a recorded identity holds (its "path_bytes", unescaped), else `recorded_path`.
std::string recorded_input_path(const nlohmann::json& identity, const std::string& recorded_path);

}  // namespace sam2amg
