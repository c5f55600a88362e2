#include "io/provenance.h"

#include <algorithm>
#include <map>
#include <sstream>

#include "common/error.h"
#include "common/printable.h"
#include "io/run_config.h"
#include "io/sha256.h"

namespace sam2amg {

using nlohmann::json;

namespace {

// The "shard" object of a sharded run's provenance: {index, count, inputs_sha256, inputs, assigned}.
json shard_identity_json(const ShardIdentity& s) {
  return {{"index", s.index}, {"count", s.count}, {"inputs_sha256", s.inputs_sha256}, {"inputs", s.inputs},
          {"assigned", s.assigned}};
}

}  // namespace

std::string config_sha256(const Provenance& p) { return sha256_hex(p.config_yaml); }

std::string recorded_config_sha256(const json& j) {
  if (j.contains("config_sha256") && j["config_sha256"].is_string()) return j["config_sha256"];
  if (j.contains("config") && j["config"].is_string()) return sha256_hex(j["config"].get<std::string>());
  return "";
}

std::string resume_refusal_hint() { return "; rerun with the same settings, or with --overwrite to start over"; }

json provenance_json(const Provenance& p) {
  json j{{"tool", "sam2-amg"}, {"version", p.tool_version}, {"model", p.model_path},
         {"model_sha256", p.model_sha256}, {"exif", p.exif}, {"config", p.config_yaml},
         {"config_sha256", config_sha256(p)}};
  // Where it ran, not what it computed: resuming and merging do not compare it.
  const RuntimeVersions& r = p.runtime;
  const auto or_null = [](const std::string& s) { return s.empty() ? json() : json(s); };
  if (!r.libtorch.empty())
    j["runtime"] = {{"libtorch", r.libtorch}, {"cuda", or_null(r.cuda)}, {"nvidia_driver", or_null(r.driver)}};
  if (p.shard.index >= 0) j["shard"] = shard_identity_json(p.shard);  // what merge checks
  return j;
}

bool same_run(const json& a, const json& b) {
  if (!a.is_object() || !b.is_object() || !a.contains("model_sha256") || !b.contains("model_sha256")) return false;
  const std::string ca = recorded_config_sha256(a);
  return !ca.empty() && a["model_sha256"] == b["model_sha256"] && ca == recorded_config_sha256(b);
}

json image_provenance_json(const Provenance& p, const InputFile& input) {
  return {{"path", input.path}, {"file_name", input.name}, {"model_sha256", p.model_sha256},
          {"config_sha256", config_sha256(p)}};
}

const std::vector<std::string>& run_only_settings() {
  static const std::vector<std::string> keys{"input", "input_list", "recursive", "glob", "glob_ignore_case",
                                             "out", "out_dir", "jsonl", "yolo", "overlay", "overlay_dir",
                                             "overlay_scores", "resume", "overwrite", "device", "threads",
                                             "postprocess", "stats"};
  return keys;
}

namespace {

// A config's YAML as key -> its text (a key's line and the indented or list lines under it).
std::map<std::string, std::string> yaml_entries(const std::string& yaml) {
  std::map<std::string, std::string> entries;
  std::istringstream in(yaml);
  std::string key;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] != ' ' && line[0] != '-') {
      key = line.substr(0, line.find(':'));
      entries[key] = line.substr(std::min(line.size(), key.size() + 1));
    } else if (!key.empty()) {
      entries[key] += "\n" + line;
    }
  }
  return entries;
}

std::string trimmed(const std::string& s) {
  const size_t a = s.find_first_not_of(" \n"), b = s.find_last_not_of(" \n");
  return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

// The config with every run-only setting at its default, as YAML.
std::string comparable_yaml(const std::string& yaml, const std::string& source) {
  RunConfig c;
  load_yaml_config_text(yaml, source, c);
  const IoOptions defaults;
  c.io.input.clear();
  c.io.input_list.clear();
  c.io.recursive = defaults.recursive;
  c.io.glob.clear();
  c.io.glob_ignore_case = defaults.glob_ignore_case;
  c.io.out.clear();
  c.io.out_dir.clear();
  c.io.jsonl.clear();
  c.io.yolo.clear();
  c.io.overlay = defaults.overlay;
  c.io.overlay_dir.clear();
  c.io.overlay_scores = defaults.overlay_scores;
  c.io.resume = c.io.overwrite = false;
  c.io.device = Device();
  c.io.threads = defaults.threads;
  c.io.postprocess = defaults.postprocess;
  c.io.stats = defaults.stats;  // counts of the filters, beside the masks: never changes them
  return to_yaml(c);
}

}  // namespace

std::vector<std::string> differing_settings(const std::string& recorded_yaml, const std::string& current_yaml) {
  std::map<std::string, std::string> before, now;
  try {
    before = yaml_entries(comparable_yaml(recorded_yaml, "the recorded config"));
    now = yaml_entries(comparable_yaml(current_yaml, "this run's config"));
  } catch (const Error&) {
    return {"config"};  // not a config this version reads
  }
  std::vector<std::string> keys;
  for (const auto& [key, value] : now) {
    const auto it = before.find(key);
    const std::string was = it == before.end() ? "(unset)" : trimmed(it->second);
    if (was != trimmed(value)) keys.push_back(key + ": " + was + " -> " + trimmed(value));
  }
  for (const auto& [key, value] : before)
    if (!now.count(key)) keys.push_back(key + ": " + trimmed(value) + " -> (unset)");
  return keys;
}

std::string check_resumable(const json& recorded, const Provenance& p, const std::string& what) {
  if (!recorded.is_object() || !recorded.contains("model_sha256"))
    throw UsageError(what + " records no sam2-amg run (another tool's file, or an older version's)" + resume_refusal_hint());
  if (recorded["model_sha256"] != p.model_sha256)
    throw UsageError(what + " holds results of another model or config (model SHA-256 " +
                     recorded["model_sha256"].dump() + ", this run's: " + p.model_sha256 + ")" + resume_refusal_hint());
  const std::string sha = recorded_config_sha256(recorded);
  if (sha == config_sha256(p)) return sha;
  const std::string yaml = recorded.contains("config") && recorded["config"].is_string() ? recorded["config"].get<std::string>() : "";
  const std::vector<std::string> keys = differing_settings(yaml, p.config_yaml);
  if (keys.empty()) return sha;  // only run-only settings differ
  std::string list;
  for (const std::string& k : keys) list += (list.empty() ? "" : "; ") + k;
  throw UsageError(what + " holds results of another model or config (" + list + ")" + resume_refusal_hint());
}

bool image_output_matches(const json& recorded, const json& identity, const Provenance& p, const InputFile& input,
                          const std::string& output, const std::string& accepted_config) {
  if (!recorded.is_object() || !recorded.contains("path"))
    throw UsageError("'" + printable(output) + "' records no image provenance (an older sam2-amg wrote it), so resuming "
                     "cannot tell whose masks it holds" + resume_refusal_hint());
  const bool accepted = !accepted_config.empty() && recorded.value("model_sha256", json()) == p.model_sha256 &&
                        recorded_config_sha256(recorded) == accepted_config;
  if (!accepted && !same_run(recorded, image_provenance_json(p, input)))
    throw UsageError("'" + printable(output) + "' holds results of another model or config" + resume_refusal_hint());
  const std::string path = recorded["path"].is_string() ? recorded["path"].get<std::string>() : "";
  switch (match_input(identity, path, input)) {
    case InputMatch::kSame: return true;
    case InputMatch::kChanged: return false;
    case InputMatch::kOther: break;
  }
  throw UsageError("'" + printable(output) + "' holds the masks of '" + printable(path) + "', not of '" +
                   printable(input.path) + "' (the inputs changed, and with them the names of colliding outputs)" +
                   resume_refusal_hint());
}

}  // namespace sam2amg
