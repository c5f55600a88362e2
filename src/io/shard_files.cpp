#include "io/shard_files.h"

#include <cstdio>
#include <filesystem>

#include "common/error.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDoneSuffix = ".done.json";

// "<prefix>shard-IIIII-of-NNNNN<suffix>" files in `dir`: index -> path. Sets `count` from the
// first name; a name with another N is an error.
std::map<int, std::string> find_shard_files(const fs::path& dir, const std::string& prefix, const std::string& suffix,
                                            int& count) {
  std::map<int, std::string> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() < prefix.size() + suffix.size() || name.compare(0, prefix.size(), prefix) != 0 ||
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
      continue;
    const auto shard = parse_shard_label(name.substr(prefix.size(), name.size() - prefix.size() - suffix.size()));
    if (!shard) continue;
    if (count != 0 && shard->count != count)
      throw UsageError("shard files disagree on the shard count: " + name + " says " + std::to_string(shard->count) +
                       ", expected " + std::to_string(count));
    count = shard->count;
    found[shard->index] = e.path().string();
  }
  return found;
}

}  // namespace

std::string shard_label(const Shard& shard) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "shard-%05d-of-%05d", shard.index, shard.count);
  return buf;
}

std::optional<Shard> parse_shard_label(const std::string& label) {
  // The shape shard_label writes: "shard-I-of-N", each at least five digits (more from N = 100000).
  const auto digits = [&](size_t from, size_t to) {
    if (to - from < 5 || to - from > 9) return false;
    for (size_t i = from; i < to; ++i)
      if (label[i] < '0' || label[i] > '9') return false;
    return true;
  };
  const size_t of = label.find("-of-");
  if (label.rfind("shard-", 0) != 0 || of == std::string::npos || !digits(6, of) || !digits(of + 4, label.size()))
    return std::nullopt;
  const Shard s{std::stoi(label.substr(6, of - 6)), std::stoi(label.substr(of + 4))};
  if (shard_label(s) != label) return std::nullopt;  // one spelling per shard
  return s;
}

std::string shard_path(const std::string& path, const Shard& shard) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + shard_label(shard) + p.extension().string())).string();
}

std::string unshard_path(const std::string& path) {
  const fs::path p(path);
  const std::string stem = p.stem().string();
  const size_t dot = stem.rfind('.');
  if (dot == std::string::npos || !parse_shard_label(stem.substr(dot + 1))) return path;
  return (p.parent_path() / (stem.substr(0, dot) + p.extension().string())).string();
}

std::string shard_done_path(const std::string& path, const Shard& shard) {
  const fs::path p(path);
  return (p.parent_path() / (p.stem().string() + "." + shard_done_name(shard))).string();
}

std::string shard_done_name(const Shard& shard) { return shard_label(shard) + kDoneSuffix; }

ShardFiles find_coco_shards(const std::string& out, int expected_count) {
  const fs::path p(out);
  const std::string prefix = p.stem().string() + ".";
  ShardFiles f;
  f.count = expected_count;
  f.outputs = find_shard_files(p.parent_path(), prefix, p.extension().string(), f.count);
  f.markers = find_shard_files(p.parent_path(), prefix, kDoneSuffix, f.count);
  return f;
}

ShardFiles find_dir_shards(const std::string& dir, int expected_count) {
  ShardFiles f;
  f.count = expected_count;
  f.markers = find_shard_files(dir, "", kDoneSuffix, f.count);
  f.outputs = f.markers;  // per-image files carry no shard name: the marker is the output
  return f;
}

}  // namespace sam2amg
