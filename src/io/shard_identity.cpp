#include "io/shard_identity.h"

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

#include "common/error.h"
#include "common/printable.h"
#include "io/json_files.h"
#include "io/provenance.h"
#include "io/records_json.h"
#include "io/run_config.h"
#include "io/sha256.h"
#include "io/shard_files.h"

namespace sam2amg {

using nlohmann::json;

namespace {

std::string shard_name(int index) { return "shard " + std::to_string(index); }

std::string rerun_hint(int index) { return "; remove its outputs and marker and run shard " + std::to_string(index) + " again"; }

}  // namespace

std::string shard_marker_text(const Provenance& p, const RunEnd& end, std::size_t handled, std::size_t masks) {
  // The first keys are what the marker always held; the rest proves what the shard is.
  json m = json::object();
  m["shard"] = p.shard.index;
  m["count"] = p.shard.count;
  m["images"] = handled;
  m["masks"] = masks;
  m["unreadable"] = end.unreadable.size();
  m["model_sha256"] = p.model_sha256;
  m["config_sha256"] = config_sha256(p);
  m["inputs_sha256"] = p.shard.inputs_sha256;
  m["inputs"] = p.shard.inputs;
  m["assigned"] = p.shard.assigned;
  m["run"] = run_end_json(end);
  m["sam2_amg"] = provenance_json(p);
  return dump_json(m) + "\n";
}

std::vector<json> check_shard_markers(const std::map<int, std::string>& markers, int count) {
  std::vector<json> out;
  std::vector<json> provenances;
  for (int i = 0; i < count; ++i) {
    const std::string& path = markers.at(i);
    std::ifstream in(path, std::ios::binary);
    const json m = json::parse(in, nullptr, /*allow_exceptions=*/false);
    const char* keys[] = {"shard", "count", "images", "inputs_sha256", "inputs", "assigned", "run", "sam2_amg"};
    bool ok = m.is_object();
    for (const char* k : keys) ok = ok && m.contains(k);
    ok = ok && m["shard"].is_number_integer() && m["count"].is_number_integer() && m["images"].is_number_unsigned() &&
         m["inputs"].is_number_unsigned() && m["assigned"].is_number_unsigned() && m["inputs_sha256"].is_string() &&
         m["run"].is_object() && m["sam2_amg"].is_object();
    if (!ok)
      throw UsageError(shard_name(i) + "'s done marker '" + printable(path) +
                       "' does not record what the shard is (corrupt, or written by an older sam2-amg)" +
                       rerun_hint(i));
    if (m["shard"] != i || m["count"] != count)
      throw UsageError(shard_name(i) + "'s done marker '" + printable(path) + "' records shard " +
                       m["shard"].dump() + " of " + m["count"].dump() + ", not its name's " + std::to_string(i) +
                       " of " + std::to_string(count) + " (copied or renamed)" + rerun_hint(i));
    if (i > 0 && (m["inputs_sha256"] != out[0]["inputs_sha256"] || m["inputs"] != out[0]["inputs"]))
      throw UsageError(shard_name(i) + " was run on another set of inputs (" + m["inputs"].dump() +
                       " inputs, shard 0: " + out[0]["inputs"].dump() +
                       "; or other files): merging would drop or repeat images; run it with shard 0's --input");
    if (m["images"] != m["assigned"])
      throw UsageError(shard_name(i) + " handled " + m["images"].dump() + " of its " + m["assigned"].dump() +
                       " inputs" + rerun_hint(i));
    provenances.push_back(m["sam2_amg"]);
    out.push_back(m);
  }
  std::size_t assigned = 0;
  for (const json& m : out) assigned += m["assigned"].get<std::size_t>();
  if (!out.empty() && assigned != out[0]["inputs"].get<std::size_t>())
    throw UsageError("the " + std::to_string(count) + " shards were given " + std::to_string(assigned) +
                     " inputs between them, but the run has " + out[0]["inputs"].dump() +
                     ": some shard ran with another --shard-count or input list");
  merged_provenance(provenances, "");  // one model, one config: throws naming the shard that differs
  return out;
}

void check_shard_output(const json& recorded, const json& marker, std::int64_t images, int index,
                        const std::string& output) {
  const json shard = recorded.is_object() ? recorded.value("shard", json()) : json();
  if (!shard.is_object())
    throw UsageError(shard_name(index) + " ('" + printable(output) +
                     "') records no shard identity (not a shard's output, or an older sam2-amg's)" +
                     rerun_hint(index));
  if (shard.value("index", -1) != index || shard.value("count", 0) != marker["count"])
    throw UsageError(shard_name(index) + " ('" + printable(output) + "') holds the output of shard " +
                     shard.value("index", json()).dump() + " of " + shard.value("count", json()).dump() +
                     " (copied or renamed)" + rerun_hint(index));
  if (shard.value("inputs_sha256", std::string()) != marker["inputs_sha256"] ||
      recorded.value("config_sha256", std::string()) != marker["sam2_amg"].value("config_sha256", std::string()) ||
      recorded.value("model_sha256", std::string()) != marker["sam2_amg"].value("model_sha256", std::string()))
    throw UsageError(shard_name(index) + " ('" + printable(output) +
                     "') is not the output its done marker committed (another run's file)" + rerun_hint(index));
  const std::int64_t unreadable = static_cast<std::int64_t>(marker["run"].value("unreadable", json::array()).size());
  const std::int64_t assigned = marker["assigned"].get<std::int64_t>();
  if (images + unreadable != assigned)
    throw UsageError(shard_name(index) + " ('" + printable(output) + "') holds " + std::to_string(images) +
                     " images and " + std::to_string(unreadable) + " unreadable inputs, not its " +
                     std::to_string(assigned) + rerun_hint(index));
}

json merged_run_end(const std::vector<json>& markers) {
  json unreadable = json::array(), skipped = json::array();
  std::set<std::string> seen;
  for (const json& m : markers) {
    const json run = m.value("run", json::object());
    for (const json& u : run.value("unreadable", json::array())) unreadable.push_back(u);
    for (const json& e : run.value("skipped_entries", json::array()))
      if (seen.insert(e.dump()).second) skipped.push_back(e);
  }
  return {{"complete", true}, {"unreadable", unreadable}, {"skipped_entries", skipped}};
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
