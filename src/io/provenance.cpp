#include "io/provenance.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "io/json_files.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "io/sha256.h"
#include "io/shard_identity.h"

namespace sam2amg {

using nlohmann::json;

namespace {

// The config's hash as an object records it (older run.json files hold only the YAML).
std::string recorded_config_sha256(const json& j) {
  if (j.contains("config_sha256") && j["config_sha256"].is_string()) return j["config_sha256"];
  if (j.contains("config") && j["config"].is_string()) return sha256_hex(j["config"].get<std::string>());
  return "";
}

// How a run record's text starts (keys in order): a torn first line that starts so is ours.
constexpr const char* kRunRecordStart = "{\"sam2_amg\":";

std::string redo_hint() { return "; rerun with the same settings, or with --overwrite to start over"; }

}  // namespace

std::string config_sha256(const Provenance& p) { return sha256_hex(p.config_yaml); }

json provenance_json(const Provenance& p) {
  json j{{"tool", "sam2-amg"}, {"version", p.tool_version}, {"model", p.model_path},
         {"model_sha256", p.model_sha256}, {"exif", p.exif}, {"config", p.config_yaml},
         {"config_sha256", config_sha256(p)}};
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

bool image_output_matches(const json& recorded, const Provenance& p, const InputFile& input,
                          const std::string& output) {
  if (!recorded.is_object() || !recorded.contains("path"))
    throw UsageError("'" + printable(output) + "' records no image provenance (an older sam2-amg wrote it), so resuming cannot "
                     "tell whose masks it holds" + redo_hint());
  if (!same_run(recorded, image_provenance_json(p, input)))
    throw UsageError("'" + printable(output) + "' holds results of another model or config" + redo_hint());
  const std::string path = recorded["path"].is_string() ? recorded["path"].get<std::string>() : "";
  if (path != input.path)
    throw UsageError("'" + printable(output) + "' holds the masks of '" + printable(path) + "', not of '" +
                     printable(input.path) +
                     "' (the inputs changed, and with them the names of colliding outputs)" + redo_hint());
  return true;
}

json run_record(const Provenance& p) { return {{"type", "run"}, {"sam2_amg", provenance_json(p)}}; }

bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const json& line)>& done) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string first;
  const bool complete = static_cast<bool>(std::getline(in, first)) && !in.eof();
  // Empty, or killed while writing the record: nothing to resume. Anything else is checked.
  if (!complete && (first.empty() || first.rfind(kRunRecordStart, 0) == 0)) return false;
  const json record = json::parse(first, nullptr, false);
  if (!record.is_object() || record.value("type", std::string()) != "run")
    throw UsageError(what + " does not start with a sam2-amg run record (another tool's file, or an older "
                     "version's)" + redo_hint());
  const json run = provenance_json(p);
  if (!same_run(record.value("sam2_amg", json()), run)) throw UsageError(what + " holds results of another model or config" + redo_hint());
  keep_complete_lines(in, path, [&](const json& line) {
    if (!line.is_object() || line.value("type", std::string()) != "image" || !line.contains("image") ||
        !line["image"].is_object())
      return false;
    if (!same_run(line.value("sam2_amg", json::object()), run))
      throw UsageError(what + " holds results of another model or config (" +
                       printable(line["image"].value("path", std::string("?"))) + ")" + redo_hint());
    done(line);
    return true;
  });
  return true;
}

namespace {

// The first "key: value" line where two configs' YAML differ (comments skipped).
std::pair<std::string, std::string> first_difference(const std::string& a, const std::string& b) {
  std::istringstream ia(a), ib(b);
  std::string la, lb;
  for (;;) {
    do {
      if (!std::getline(ia, la)) la.clear();
    } while (!la.empty() && la[0] == '#');
    do {
      if (!std::getline(ib, lb)) lb.clear();
    } while (!lb.empty() && lb[0] == '#');
    if (la != lb || la.empty()) return {la, lb};
  }
}

}  // namespace

json merged_provenance(const std::vector<json>& shards, const std::string& out) {
  RunConfig merged;
  std::string model_sha256, key0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const json& p = shards[i];
    const std::string name = "shard " + std::to_string(i);
    if (!p.is_object() || !p.contains("config") || !p["config"].is_string() || !p.contains("model_sha256"))
      throw UsageError(name + " records no config or model (not written by this sam2-amg): cannot tell whether it "
                              "may be merged; run it again");
    RunConfig c;
    load_yaml_config_text(p["config"].get<std::string>(), name + "'s recorded config", c);
    // What only says which shard ran where, and the files it wrote.
    c.io.shard.clear();
    c.io.shard_count = 0;
    c.io.out = out.empty() ? unshard_path(c.io.out) : out;
    c.io.jsonl = unshard_path(c.io.jsonl);
    RunConfig compared = c;
    compared.io.model.clear();  // the SHA-256 is compared instead: a copy elsewhere is the same model
    compared.io.device = Device();
    compared.io.threads = 0;
    compared.io.input.clear();
    const std::string key = to_yaml(compared);
    if (i == 0) {
      merged = c;
      model_sha256 = p["model_sha256"];
      key0 = key;
      continue;
    }
    if (p["model_sha256"] != model_sha256)
      throw UsageError(name + " was made with another model (SHA-256 " + p["model_sha256"].dump() + ", shard 0: " +
                       model_sha256 + "): merging would mix two models' masks; rerun it with shard 0's model");
    if (key != key0) {
      const auto [mine, first] = first_difference(key, key0);
      throw UsageError(name + " was made with another config ('" + mine + "' where shard 0 has '" + first +
                       "'): merging would mix two configs' masks; rerun it with shard 0's settings");
    }
    for (const std::string& in : c.io.input)
      if (std::find(merged.io.input.begin(), merged.io.input.end(), in) == merged.io.input.end())
        merged.io.input.push_back(in);
    if (c.io.device.str() != merged.io.device.str()) merged.io.device = Device();
    if (c.io.threads != merged.io.threads) merged.io.threads = 0;
  }
  json result = shards.at(0);
  result.erase("shard");  // the merged file is the whole run's
  result["config"] = to_yaml(merged, YamlKeys::kRecorded);  // as a run records it (run_job)
  result["config_sha256"] = sha256_hex(result["config"].get<std::string>());
  return result;
}

}  // namespace sam2amg
