#pragma once
/// Provenance, in one place (internal to io/): what every output records about the run that made
/// it, what each per-image output (a JSON-lines line, a per-image JSON, a mask folder) records
/// about its image, and the one rule for what may be mixed in one output when a run resumes:
/// the same model (SHA-256) and the same effective config (SHA-256 of its YAML), and, per image,
/// the same input path.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "io/inputs.h"
#include "io/writers.h"

namespace sam2amg {

/// SHA-256 of the effective config's YAML: the config's identity in every output.
std::string config_sha256(const Provenance& p);

/// The run's full provenance: tool, version, model path and SHA-256, EXIF policy, the config's
/// YAML and its SHA-256. COCO `info.sam2_amg`, `--out-dir`'s run.json, the JSON-lines run record.
nlohmann::json provenance_json(const Provenance& p);

/// True when two provenance objects (provenance_json or image_provenance_json) name the same
/// model and config: their outputs may be mixed in one file. An object of an older version,
/// with the config but no config_sha256, is hashed here.
bool same_run(const nlohmann::json& a, const nlohmann::json& b);

/// What a per-image output records about its image: {"path", "file_name", "model_sha256",
/// "config_sha256"} (the input as given, its name relative to its folder input, the run's hashes).
nlohmann::json image_provenance_json(const Provenance& p, const InputFile& input);

/// Checks an existing per-image output against this run and `input` before resume counts it as
/// done: true when `recorded` (its image_provenance_json) names this run and this input. Throws
/// UsageError (exit 2) naming `output` when it names another model or config, another input (names
/// that shift when the input set grows), or nothing (an output without per-image provenance):
/// its masks must never be attributed to `input`.
bool image_output_matches(const nlohmann::json& recorded, const Provenance& p, const InputFile& input,
                          const std::string& output);

/// The first line of a JSON-lines output (--jsonl, the COCO journal): {"type": "run",
/// "sam2_amg": provenance_json}. Image lines carry {"type": "image", ..., "sam2_amg":
/// image_provenance_json}; a reader skips every line whose type is not "image".
nlohmann::json run_record(const Provenance& p);

/// Resumes a JSON-lines output that starts with a run record: false when there is nothing to
/// resume (no file, or no complete first line: the caller starts it afresh). Otherwise checks the
/// run record and every complete image line against `p`, calls `done` with each line, and cuts a
/// torn last line off. Throws UsageError naming `what` when the file holds results of another model
/// or config, or has no run record (another tool's file, or an older version's).
bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const nlohmann::json& line)>& done);

/// The provenance of a merged file, from its shards' (provenance_json each, in shard order). The
/// shards must share the model (SHA-256) and the config, apart from what only says where a shard
/// ran and wrote (shard, shard_count, its own output files, model path, device, threads) and the
/// inputs given. The result is shard 0's, with the config of one unsharded run writing `out`: no
/// shard, the union of the inputs, device and threads where all shards agree (else their defaults).
/// Throws UsageError naming the first shard that differs, and how.
nlohmann::json merged_provenance(const std::vector<nlohmann::json>& shards, const std::string& out);

}  // namespace sam2amg
