#include <yaml-cpp/yaml.h>

#include <cstdio>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "common/error.h"
#include "io/bounded_read.h"
#include "io/point_grids_file.h"
#include "io/run_config.h"

namespace sam2amg {

namespace {

std::vector<std::string> all_keys() {
  std::vector<std::string> keys;
  for_each_amg_param([&](const char* name, auto, const char*) { keys.emplace_back(name); });
  for_each_io_param([&](const char* name, auto, const char*) { keys.emplace_back(name); });
  return keys;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// Reads one YAML value into a typed field; `where` is "file:line: key" for messages.
class FieldReader {
 public:
  FieldReader(const YAML::Node& node, std::string where, std::string base_dir)
      : node_(node), where_(std::move(where)), base_dir_(std::move(base_dir)) {}

  void read(int& out) const { out = int_value(); }
  void read(std::int64_t& out) const { out = integer(); }
  void read(double& out) const { out = number(); }
  void read(bool& out) const {
    const std::string s = scalar("true or false");
    if (s == "true" || s == "True" || s == "TRUE") {
      out = true;
    } else if (s == "false" || s == "False" || s == "FALSE") {
      out = false;
    } else {
      fail("expected true or false, got '" + s + "'");
    }
  }
  void read(std::string& out) const { out = scalar("a string"); }
  void read(std::optional<int>& out) const {
    if (node_.IsNull()) {
      out.reset();
    } else {
      out = int_value();
    }
  }
  void read(std::vector<std::string>& out) const {
    out.clear();
    if (node_.IsScalar()) {
      out.push_back(node_.Scalar());
      return;
    }
    if (!node_.IsSequence()) fail("expected a path or a list of paths");
    for (const auto& item : node_) {
      if (!item.IsScalar()) fail("expected a list of paths");
      out.push_back(item.Scalar());
    }
  }
  template <typename E, std::enable_if_t<has_enum_names_v<E>, int> = 0>
  void read(E& out) const {
    const std::string s = scalar(enum_choices<E>().c_str());
    try {
      out = parse_enum<E>(s);
    } catch (const UsageError& e) {
      fail(e.what());
    }
  }
  void read(Device& out) const {
    const std::string s = scalar("a string");
    try {
      out = Device(s);
    } catch (const ModelError& e) {
      throw ModelError(where_ + ": " + e.what());  // as on the command line: exit 3
    }
  }
  void read(std::vector<PointGrid>& out) const {
    // Either a JSON file (resolved next to the config) or the grids inline.
    if (node_.IsScalar()) {
      std::string path = node_.Scalar();
      if (!path.empty() && path[0] != '/' && !base_dir_.empty()) path = base_dir_ + "/" + path;
      out = read_point_grids(path);
      return;
    }
    out.clear();
    if (node_.IsNull()) return;
    if (!node_.IsSequence()) fail("expected a list of grids or a JSON file name");
    for (const auto& grid : node_) {
      PointGrid g;
      if (!grid.IsSequence()) fail("each grid must be a list of [x, y] pairs");
      for (const auto& p : grid) {
        if (!p.IsSequence() || p.size() != 2) fail("each point must be [x, y]");
        g.push_back({FieldReader(p[0], where_, base_dir_).number(), FieldReader(p[1], where_, base_dir_).number()});
      }
      out.push_back(std::move(g));
    }
  }

 private:
  [[noreturn]] void fail(const std::string& why) const { throw UsageError(where_ + ": " + why); }

  std::string scalar(const char* expected) const {
    if (!node_.IsScalar()) fail(std::string("expected ") + expected);
    return node_.Scalar();
  }
  int int_value() const {
    const std::int64_t v = integer();
    if (v < INT32_MIN || v > INT32_MAX) fail("value " + std::to_string(v) + " is out of range");
    return static_cast<int>(v);
  }
  std::int64_t integer() const {
    const std::string s = scalar("an integer");
    std::int64_t v = 0;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size()) fail("expected an integer, got '" + s + "'");
    return v;
  }
  double number() const {
    // Plain numbers, or a fraction such as 512/1500 (the reference writes crop_overlap_ratio so).
    const std::string s = scalar("a number");
    const size_t slash = s.find('/');
    auto parse = [&](const std::string& t) {
      double v = 0;
      const auto [p, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
      if (ec != std::errc() || p != t.data() + t.size() || t.empty()) fail("expected a number, got '" + s + "'");
      return v;
    };
    if (slash == std::string::npos) return parse(s);
    return parse(s.substr(0, slash)) / parse(s.substr(slash + 1));
  }

  const YAML::Node& node_;
  std::string where_;
  std::string base_dir_;
};

std::string num(double v) {
  char buf[64];
  const auto [p, ec] = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  std::string s(buf, p);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

// A YAML double-quoted scalar. Like JSON's escaping, but bytes that are not UTF-8 (file names
// may hold any) pass through unchanged: yaml-cpp reads them back, and the file names stay exact.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

std::string yaml_value(int v) { return std::to_string(v); }
std::string yaml_value(std::int64_t v) { return std::to_string(v); }
std::string yaml_value(double v) { return num(v); }
std::string yaml_value(bool v) { return v ? "true" : "false"; }
std::string yaml_value(const std::string& v) { return quoted(v); }
std::string yaml_value(const std::optional<int>& v) { return v ? std::to_string(*v) : "null"; }
template <typename E, std::enable_if_t<has_enum_names_v<E>, int> = 0>
std::string yaml_value(E v) {
  return quoted(enum_name(v));
}
// Written bare since it was introduced; printed configs (also recorded in outputs) stay the same.
std::string yaml_value(SmallRegionMode v) { return enum_name(v); }
std::string yaml_value(const Device& v) { return quoted(v.str()); }
std::string yaml_value(const std::vector<std::string>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + quoted(v[i]);
  return s + "]";
}
std::string yaml_value(const std::vector<PointGrid>& grids) {
  std::string s = "[";
  for (size_t g = 0; g < grids.size(); ++g) {
    s += g ? ", [" : "[";
    for (size_t i = 0; i < grids[g].size(); ++i)
      s += (i ? ", [" : "[") + num(grids[g][i][0]) + ", " + num(grids[g][i][1]) + "]";
    s += "]";
  }
  return s + "]";
}

}  // namespace

std::pair<std::string, size_t> closest_name(const std::string& word, const std::vector<std::string>& names) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const std::string& k : names) {
    const size_t d = edit_distance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  return {best, best_d};
}

std::string closest_config_key(const std::string& key) { return closest_name(key, all_keys()).first; }

void validate_io(const IoOptions& io) {
  if (io.threads < 0) throw UsageError("invalid threads = " + std::to_string(io.threads) + ": expected >= 0");
  if (io.max_image_pixels < 1) throw UsageError("invalid max_image_pixels: expected >= 1");
  if (io.overlay && io.out_dir.empty()) throw UsageError("--overlay needs --out-dir (or give --overlay-dir DIR)");
  if (io.overlay && !io.overlay_dir.empty() && io.overlay_dir != io.out_dir)
    throw UsageError("--overlay writes the overlays into --out-dir, --overlay-dir elsewhere: give one of them");
  if (io.overlay_scores && !io.overlay && io.overlay_dir.empty())
    throw UsageError("--overlay-scores needs --overlay-dir DIR (or --overlay with --out-dir)");
  if (io.resume && io.overwrite)
    throw UsageError("--resume and --overwrite exclude each other: continue the outputs, or replace them");
}

void load_yaml_config_text(const std::string& text, const std::string& source, RunConfig& config) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    throw UsageError(source + ":" + std::to_string(e.mark.line + 1) + ": YAML syntax error: " + e.msg);
  }
  if (root.IsNull()) return;  // an empty file sets nothing
  if (!root.IsMap()) throw UsageError(source + ": expected a mapping of parameter names to values");

  const std::vector<std::string> keys = all_keys();
  std::map<std::string, YAML::Node> given;
  std::map<std::string, int> line_of;
  for (auto it = root.begin(); it != root.end(); ++it) {
    const std::string key = it->first.Scalar();
    const int line = it->first.Mark().line + 1;
    const std::string where = source + ":" + std::to_string(line);
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      throw UsageError(where + ": unknown key '" + key + "'; did you mean '" + closest_config_key(key) + "'?");
    if (line_of.count(key))
      throw UsageError(where + ": duplicate key '" + key + "' (first set on line " + std::to_string(line_of[key]) + ")");
    line_of[key] = line;
    given[key] = it->second;
  }
  const size_t slash = source.find_last_of('/');
  const std::string base_dir = slash == std::string::npos ? "" : source.substr(0, slash);
  auto apply = [&](auto& target) {
    return [&](const char* name, auto member, const char*) {
      const auto found = given.find(name);
      if (found == given.end()) return;
      const std::string where = source + ":" + std::to_string(line_of[name]) + ": " + name;
      FieldReader(found->second, where, base_dir).read(target.*member);
    };
  };
  for_each_amg_param(apply(config.amg));
  for_each_io_param(apply(config.io));
  // point_grids: null sets no grid, so it does not choose the grids over points_per_side.
  const bool grids_given = given.count("point_grids") && !given["point_grids"].IsNull();
  apply_prompt_choice(config.amg, given.count("points_per_side") > 0, grids_given,
                      grids_given ? source + ":" + std::to_string(line_of["point_grids"]) : source);
}

void load_yaml_config(const std::string& path, RunConfig& config) {
  // An ifstream opens a folder and reads it as empty: that would run with the defaults.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw UsageError("config file '" + printable(path) +
                     "' is a folder: give a YAML file (e.g. configs/sam2-defaults.yaml)");
  // Only a regular file below the cap: a FIFO would hang the run, /dev/urandom fill memory.
  std::vector<std::uint8_t> bytes;
  if (const std::string why = read_bounded_file(path, kMaxConfigFileBytes, bytes); !why.empty())
    throw UsageError("cannot read config file '" + printable(path) + "': " + why);
  load_yaml_config_text(std::string(bytes.begin(), bytes.end()), path, config);
}

std::string to_yaml(const RunConfig& config, YamlKeys keys) {
  std::string s = "# sam2-amg effective config: `sam2-amg --config FILE` reproduces this run.\n";
  auto emit = [&](const auto& source) {
    return [&](const char* name, auto member, const char* help) {
      s += std::string("# ") + help + "\n" + name + ": " + yaml_value(source.*member) + "\n";
    };
  };
  const AmgConfig defaults;
  for_each_amg_param([&](const char* name, auto member, const char* help) {
    if (keys == YamlKeys::kRecorded && is_output_filter_param(name) && config.amg.*member == defaults.*member) return;
    emit(config.amg)(name, member, help);
  });
  for_each_io_param(emit(config.io));
  return s;
}

}  // namespace sam2amg
