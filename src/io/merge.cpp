#include "io/merge.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>

#include "common/error.h"
#include "io/shards.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Finds "<prefix>shard-IIIII-of-NNNNN<suffix>" files in `dir`; returns index -> path and sets N.
std::map<int, std::string> find_shards(const fs::path& dir, const std::string& prefix, const std::string& suffix,
                                       int& count) {
  std::map<int, std::string> found;
  const std::regex re(std::regex_replace(prefix, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                      R"(shard-(\d{5})-of-(\d{5}))" +
                      std::regex_replace(suffix, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)"));
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir.empty() ? "." : dir, ec)) {
    std::smatch m;
    const std::string name = e.path().filename().string();
    if (!std::regex_match(name, m, re)) continue;
    const int n = std::stoi(m[2]);
    if (count != 0 && n != count)
      throw UsageError("shard files disagree on the shard count: " + name + " says " + std::to_string(n) + ", expected " +
                       std::to_string(count));
    count = n;
    found[std::stoi(m[1])] = e.path().string();
  }
  return found;
}

MergeReport check(const std::map<int, std::string>& outputs, const std::map<int, std::string>& markers, int count) {
  MergeReport r;
  r.shard_count = count;
  for (int i = 0; i < count; ++i) {
    if (markers.count(i)) continue;
    (outputs.count(i) ? r.incomplete : r.missing).push_back(i);
  }
  return r;
}

}  // namespace

MergeReport verify_dir_shards(const std::string& dir, int expected_count) {
  int count = expected_count;
  const auto markers = find_shards(dir, "", ".done.json", count);
  if (count == 0) throw UsageError("no shard-*.done.json markers in '" + dir + "': give --shard-count N to report them");
  return check(markers, markers, count);
}

MergeReport merge_coco_shards(const std::string& out, int expected_count) {
  const fs::path p(out);
  const std::string prefix = p.stem().string() + ".";
  int count = expected_count;
  const auto outputs = find_shards(p.parent_path(), prefix, p.extension().string(), count);
  const auto markers = find_shards(p.parent_path(), prefix, ".done.json", count);
  if (count == 0)
    throw UsageError("no shard outputs like '" + shard_path(out, {0, 1}) + "' found: was the run sharded with --out " +
                     out + "?");
  MergeReport report = check(outputs, markers, count);
  if (!report.ok()) return report;

  // Pass 1: one line per image (the image and its annotations) in a scratch file, plus an index.
  struct Entry {
    std::string key;
    std::streamoff offset;
  };
  std::vector<Entry> index;
  const std::string scratch = out + ".merge.tmp";
  json info;
  {
    std::ofstream tmp(scratch, std::ios::binary | std::ios::trunc);
    if (!tmp) throw OutputError(scratch, std::strerror(errno));
    for (int i = 0; i < count; ++i) {
      std::ifstream in(outputs.at(i));
      json shard = json::parse(in, nullptr, /*allow_exceptions=*/false);
      if (shard.is_discarded() || !shard.contains("images"))
        throw OutputError(outputs.at(i), "not a COCO file written by sam2-amg (corrupt shard?)");
      if (i == 0) info = shard["info"];
      std::map<std::int64_t, json> anns;
      for (json& a : shard["annotations"]) anns[a["image_id"].get<std::int64_t>()].push_back(std::move(a));
      for (json& img : shard["images"]) {
        const std::int64_t id = img["id"].get<std::int64_t>();
        const std::string key = img.value("path", img.value("file_name", std::string()));
        json line{{"image", img}, {"annotations", anns.count(id) ? std::move(anns[id]) : json::array()}};
        index.push_back({key, tmp.tellp()});
        tmp << line.dump(-1, ' ', false, json::error_handler_t::replace) << '\n';
      }
    }
    if (!tmp.flush()) throw OutputError(scratch, "write failed (disk full?)");
  }
  // An unsharded run processes inputs sorted by path; so does the merged file.
  std::stable_sort(index.begin(), index.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });

  // Pass 2: the final file, renumbered, written atomically.
  std::ifstream tmp(scratch, std::ios::binary);
  auto read_line = [&](const Entry& e) {
    tmp.clear();
    tmp.seekg(e.offset);
    std::string s;
    std::getline(tmp, s);
    return json::parse(s);
  };
  const std::string part = out + ".tmp";
  {
    std::ofstream o(part, std::ios::binary | std::ios::trunc);
    if (!o) throw OutputError(part, std::strerror(errno));
    info["merged_shards"] = count;
    o << "{\"info\": " << info.dump(-1, ' ', false, json::error_handler_t::replace) << ",\n\"licenses\": [],\n\"categories\": "
      << json::array({{{"id", 1}, {"name", "object"}, {"supercategory", "object"}}}).dump(-1, ' ', false, json::error_handler_t::replace) << ",\n\"images\": [";
    for (size_t k = 0; k < index.size(); ++k) {
      json img = read_line(index[k])["image"];
      img["id"] = static_cast<std::int64_t>(k) + 1;
      o << (k ? ",\n" : "\n") << img.dump(-1, ' ', false, json::error_handler_t::replace);
    }
    o << "\n],\n\"annotations\": [";
    std::int64_t ann_id = 0;
    for (size_t k = 0; k < index.size(); ++k) {
      json line = read_line(index[k]);  // keep it alive: the loop walks into it
      for (json& a : line["annotations"]) {
        a["id"] = ++ann_id;
        a["image_id"] = static_cast<std::int64_t>(k) + 1;
        o << (ann_id == 1 ? "\n" : ",\n") << a.dump(-1, ' ', false, json::error_handler_t::replace);
      }
    }
    o << "\n]}\n";
    if (!o.flush()) throw OutputError(part, "write failed (disk full?)");
    report.images = static_cast<std::int64_t>(index.size());
    report.annotations = ann_id;
  }
  std::error_code ec;
  fs::rename(part, out, ec);
  if (ec) throw OutputError(out, ec.message());
  fs::remove(scratch, ec);
  return report;
}

}  // namespace sam2amg
