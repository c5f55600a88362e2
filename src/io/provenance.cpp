#include "io/provenance.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <map>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "io/json_files.h"
#include "io/run_config.h"
#include "io/sha256.h"
#include "common/printable.h"

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

// The "shard" object of a sharded run's provenance: {index, count, inputs_sha256, inputs, assigned}.
json shard_identity_json(const ShardIdentity& s) {
  return {{"index", s.index}, {"count", s.count}, {"inputs_sha256", s.inputs_sha256}, {"inputs", s.inputs},
          {"assigned", s.assigned}};
}

std::string redo_hint() { return "; rerun with the same settings, or with --overwrite to start over"; }

}  // namespace

std::string config_sha256(const Provenance& p) { return sha256_hex(p.config_yaml); }

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
    throw UsageError(what + " records no sam2-amg run (another tool's file, or an older version's)" + redo_hint());
  if (recorded["model_sha256"] != p.model_sha256)
    throw UsageError(what + " holds results of another model or config (model SHA-256 " +
                     recorded["model_sha256"].dump() + ", this run's: " + p.model_sha256 + ")" + redo_hint());
  const std::string sha = recorded_config_sha256(recorded);
  if (sha == config_sha256(p)) return sha;
  const std::string yaml = recorded.contains("config") && recorded["config"].is_string() ? recorded["config"].get<std::string>() : "";
  const std::vector<std::string> keys = differing_settings(yaml, p.config_yaml);
  if (keys.empty()) return sha;  // only run-only settings differ
  std::string list;
  for (const std::string& k : keys) list += (list.empty() ? "" : "; ") + k;
  throw UsageError(what + " holds results of another model or config (" + list + ")" + redo_hint());
}

std::string escape_bytes(const std::string& bytes) {
  std::string out;
  char buf[4];
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && c != '%') {
      out += ch;
    } else {
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

namespace {

std::string unescape_bytes(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() + 0 && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

std::string canonical_path(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path c = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

// Size and modification time (ns) of a file now; false when it cannot be read.
bool content_stamp(const std::string& path, std::int64_t& size, std::int64_t& mtime_ns) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return false;
  size = st.st_size;
  mtime_ns = std::int64_t(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  return true;
}

// True when the input a record names was rewritten since: its size or mtime differ now. A file
// that is gone, or a record without them, is not (its results are kept).
bool content_changed(const json& identity) {
  if (!identity.is_object() || !identity.contains("path_bytes") || !identity.contains("size") ||
      !identity.contains("mtime_ns"))
    return false;
  std::int64_t size = 0, mtime = 0;
  if (!content_stamp(unescape_bytes(identity.value("path_bytes", std::string())), size, mtime)) return false;
  return identity["size"] != size || identity["mtime_ns"] != mtime;
}

}  // namespace

std::string input_key(const InputFile& input) {
  return escape_bytes(input.key.empty() ? canonical_path(input.path) : input.key);
}

json input_identity_json(const InputFile& input) {
  json j{{"key", input_key(input)}, {"path_bytes", escape_bytes(input.path)}};
  std::int64_t size = 0, mtime = 0;
  if (content_stamp(input.path, size, mtime)) {
    j["size"] = size;
    j["mtime_ns"] = mtime;
  }
  return j;
}

std::string recorded_input_key(const json& identity, const std::string& recorded_path) {
  if (identity.is_object() && identity.contains("key") && identity["key"].is_string()) return identity["key"];
  return escape_bytes(canonical_path(recorded_path));
}

InputMatch match_input(const json& identity, const std::string& recorded_path, const InputFile& input) {
  if (recorded_input_key(identity, recorded_path) != input_key(input)) return InputMatch::kOther;
  return content_changed(identity) ? InputMatch::kChanged : InputMatch::kSame;
}

bool image_output_matches(const json& recorded, const json& identity, const Provenance& p, const InputFile& input,
                          const std::string& output, const std::string& accepted_config) {
  if (!recorded.is_object() || !recorded.contains("path"))
    throw UsageError("'" + printable(output) + "' records no image provenance (an older sam2-amg wrote it), so resuming "
                     "cannot tell whose masks it holds" + redo_hint());
  const bool accepted = !accepted_config.empty() && recorded.value("model_sha256", json()) == p.model_sha256 &&
                        recorded_config_sha256(recorded) == accepted_config;
  if (!accepted && !same_run(recorded, image_provenance_json(p, input)))
    throw UsageError("'" + printable(output) + "' holds results of another model or config" + redo_hint());
  const std::string path = recorded["path"].is_string() ? recorded["path"].get<std::string>() : "";
  switch (match_input(identity, path, input)) {
    case InputMatch::kSame: return true;
    case InputMatch::kChanged: return false;
    case InputMatch::kOther: break;
  }
  throw UsageError("'" + printable(output) + "' holds the masks of '" + printable(path) + "', not of '" +
                   printable(input.path) + "' (the inputs changed, and with them the names of colliding outputs)" +
                   redo_hint());
}

json run_record(const Provenance& p) { return {{"type", "run"}, {"sam2_amg", provenance_json(p)}}; }

void check_run_lines_resumable(const std::string& path, const Provenance& p, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  std::string first;
  if (!in) return;
  const bool complete = static_cast<bool>(std::getline(in, first)) && !in.eof();
  if (!complete && (first.empty() || first.rfind(kRunRecordStart, 0) == 0)) return;
  const json record = json::parse(first, nullptr, false);
  if (!record.is_object() || record.value("type", std::string()) != "run")
    throw UsageError(what + " does not start with a sam2-amg run record (another tool's file, or an older "
                     "version's)" + redo_hint());
  check_resumable(record.value("sam2_amg", json()), p, what);
}

bool recorded_input_changed(const json& identity) { return content_changed(identity); }

std::string recorded_input_path(const json& identity, const std::string& recorded_path) {
  if (identity.is_object() && identity.contains("path_bytes") && identity["path_bytes"].is_string())
    return unescape_bytes(identity["path_bytes"].get<std::string>());
  return recorded_path;
}

RunLinesFile::RunLinesFile(std::string path, const Provenance& p) : path_(std::move(path)), record_(run_record(p)) {}

JsonLinesFile& RunLinesFile::get() {
  if (!file_) {
    file_.emplace(path_, append);
    if (!append) file_->write(record_);
  }
  return *file_;
}

bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const std::string& key, const json& line)>& done,
                      const std::function<void(const std::string& key)>& dropped) {
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
  const std::string accepted = check_resumable(record.value("sam2_amg", json()), p, what);
  const json run = provenance_json(p);
  // Complete lines are kept up to the first torn or foreign one; lines of rewritten inputs are
  // dropped, and then the file is written anew without them.
  std::string kept = first + "\n";
  bool any_dropped = false;
  std::uintmax_t good = kept.size();
  for (std::string s; std::getline(in, s);) {
    if (in.eof()) break;  // no newline: a torn line
    const json line = json::parse(s, nullptr, false);
    if (!line.is_object() || line.value("type", std::string()) != "image" || !line.contains("image") ||
        !line["image"].is_object())
      break;
    const json prov = line.value("sam2_amg", json::object());
    const bool ours = same_run(prov, run) || (prov.is_object() && prov.value("model_sha256", json()) == p.model_sha256 &&
                                              recorded_config_sha256(prov) == accepted);
    if (!ours)
      throw UsageError(what + " holds results of another model or config (" +
                       printable(line["image"].value("path", std::string("?"))) + ")" + redo_hint());
    good += s.size() + 1;
    const json identity = line.value("input", json());
    if (content_changed(identity)) {
      any_dropped = true;
      if (dropped) dropped(recorded_input_key(identity, line["image"].value("path", std::string())));
      continue;
    }
    kept += s + "\n";
    done(recorded_input_key(identity, line["image"].value("path", std::string())), line);
  }
  in.close();
  if (any_dropped) {
    write_file_atomically(path, kept);
    return true;
  }
  std::error_code ec;
  std::filesystem::resize_file(path, good, ec);
  if (ec) throw OutputError(path, ec.message());
  return true;
}

}  // namespace sam2amg
