#include "io/merge.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include "common/error.h"
#include "io/coco_document.h"
#include "io/json_files.h"
#include "io/outputs.h"
#include "io/provenance.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

MergeReport check(const ShardFiles& files) {
  MergeReport r;
  r.shard_count = files.count;
  for (int i = 0; i < files.count; ++i) {
    if (files.markers.count(i)) continue;
    (files.outputs.count(i) ? r.incomplete : r.missing).push_back(i);
  }
  return r;
}

// merge's scratch file: removed however merge ends.
struct Scratch {
  std::string path;
  ~Scratch() {
    std::error_code ec;
    fs::remove(path, ec);
  }
};

}  // namespace

MergeReport verify_dir_shards(const std::string& dir, int expected_count) {
  const ShardFiles files = find_dir_shards(dir, expected_count);
  if (files.count == 0)
    throw UsageError("no shard-*.done.json markers in '" + dir + "': give --shard-count N to report them");
  return check(files);
}

MergeReport merge_coco_shards(const std::string& out, int expected_count) {
  const ShardFiles files = find_coco_shards(out, expected_count);
  const int count = files.count;
  const auto& outputs = files.outputs;
  if (count == 0)
    throw UsageError("no shard outputs like '" + shard_path(out, {0, 1}) + "' found: was the run sharded with --out " +
                     out + "?");
  MergeReport report = check(files);
  if (!report.ok()) return report;

  // Pass 1: one line per image (the image and its annotations) in a scratch file, plus an index.
  struct Entry {
    std::string key;
    std::streamoff offset;
  };
  std::vector<Entry> index;
  const Scratch scratch_file{out + ".merge.tmp"};
  const std::string& scratch = scratch_file.path;
  json info;
  std::vector<json> provenances;
  {
    std::ofstream tmp(scratch, std::ios::binary | std::ios::trunc);
    if (!tmp) throw OutputError(scratch, std::strerror(errno));
    for (int i = 0; i < count; ++i) {
      std::ifstream in(outputs.at(i));
      json shard = json::parse(in, nullptr, /*allow_exceptions=*/false);
      // A shard that cannot be read is bad input, not a write error: name it and what to do.
      if (shard.is_discarded() || !shard.is_object() || !shard.contains("images") || !shard["images"].is_array() ||
          !shard.contains("annotations") || !shard["annotations"].is_array() || !shard.contains("info") ||
          !shard["info"].is_object())
        throw UsageError("shard " + std::to_string(i) + " ('" + outputs.at(i) +
                         "') is not a complete COCO file written by sam2-amg (truncated or corrupt): remove it and " +
                         files.markers.at(i) + ", then run shard " + std::to_string(i) + " again");
      if (i == 0) info = shard["info"];
      provenances.push_back(shard["info"].value("sam2_amg", json()));
      std::map<std::int64_t, json> anns;
      for (json& a : shard["annotations"]) anns[a["image_id"].get<std::int64_t>()].push_back(std::move(a));
      for (json& img : shard["images"]) {
        const std::int64_t id = img["id"].get<std::int64_t>();
        const std::string key = img.value("path", img.value("file_name", std::string()));
        json line{{"image", img}, {"annotations", anns.count(id) ? std::move(anns[id]) : json::array()}};
        index.push_back({key, tmp.tellp()});
        tmp << dump_json(line) << '\n';
      }
    }
    if (!tmp.flush()) throw OutputError(scratch, "write failed (disk full?)");
  }
  // An unsharded run processes inputs sorted by path; so does the merged file.
  std::stable_sort(index.begin(), index.end(), [](const Entry& a, const Entry& b) { return a.key < b.key; });

  // Pass 2: the final file, renumbered, written atomically.
  // Shards of one run only; the merged file records that run, unsharded.
  info["sam2_amg"] = merged_provenance(provenances, out);
  std::ifstream tmp(scratch, std::ios::binary);
  info["merged_shards"] = count;
  const CocoCounts n = write_coco_document(out, info, [&](const CocoEntryVisitor& visit) {
    for (const Entry& e : index) {
      tmp.clear();
      tmp.seekg(e.offset);
      std::string s;
      std::getline(tmp, s);
      json line = json::parse(s);
      visit(line);
    }
  });
  report.images = n.images;
  report.annotations = n.annotations;
  return report;
}

}  // namespace sam2amg
