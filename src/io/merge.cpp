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
#include "common/printable.h"
#include "io/coco_document.h"
#include "io/input_identity.h"
#include "io/json_files.h"
#include "io/provenance.h"
#include "io/shard_files.h"
#include "io/shard_identity.h"

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

MergeReport verify_dir_shards(const std::string& dir, int expected_count, const std::string& merged_out) {
  const ShardFiles files = find_dir_shards(dir, expected_count);
  if (files.count == 0)
    throw UsageError("no shard-*.done.json markers in '" + printable(dir) + "': give --shard-count N to report them");
  MergeReport report = check(files);
  if (!report.ok()) return report;
  // The folder's run.json records the whole run, as one unsharded run would: each shard wrote
  // its own there, the last one winning.
  const std::vector<json> markers = check_shard_markers(files.markers, files.count);
  std::vector<json> provenances;
  for (const json& m : markers) {
    provenances.push_back(m["sam2_amg"]);
    report.images += m["images"].get<std::int64_t>() - static_cast<std::int64_t>(m["run"]["unreadable"].size());
    report.annotations += m.value("masks", std::int64_t{0});
  }
  json run = merged_provenance(provenances, merged_out);
  run["run"] = merged_run_end(markers);
  run["merged_shards"] = files.count;
  write_file_atomically(dir + "/run.json", dump_json(run, 2) + "\n");
  return report;
}

namespace {

// Pass 1 of a merge: every shard's images, as (path, where its entry is), refusing an image that
// two shards hold. `read_shard` opens shard i, checks it against its marker and calls `add` per
// image.
struct ImageIndex {
  struct Entry {
    std::string path;  // the path's bytes, the order of the merged file
    int shard;
    std::streamoff offset;
  };
  std::vector<Entry> entries;
  std::map<std::string, int> owner;  // input key -> the shard holding it

  // One image entry or line: `identity` its recorded "input" (null from an older version), `path`
  // its recorded path. Images are the same input by their canonical key, however spelled.
  void add(const json& identity, const std::string& path, int shard, std::streamoff offset, const std::string& output) {
    const auto [it, fresh] = owner.emplace(recorded_input_key(identity, path), shard);
    if (!fresh)
      throw UsageError("shard " + std::to_string(shard) + " ('" + printable(output) + "') holds '" + printable(path) +
                       "', which shard " + std::to_string(it->second) +
                       " holds too: merging would write it twice; rerun the shards with the same --input");
    entries.push_back({recorded_input_path(identity, path), shard, offset});
  }
  void sort() {
    // An unsharded run processes inputs sorted by path; so does the merged file.
    std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  }
};

}  // namespace

MergeReport merge_coco_shards(const std::string& out, int expected_count) {
  const ShardFiles files = find_coco_shards(out, expected_count);
  const int count = files.count;
  const auto& outputs = files.outputs;
  if (count == 0)
    throw UsageError("no shard outputs like '" + printable(shard_path(out, {0, 1})) +
                     "' found: was the run sharded with --out " + printable(out) + "?");
  MergeReport report = check(files);
  if (!report.ok()) return report;
  const std::vector<json> markers = check_shard_markers(files.markers, count);

  // Pass 1: one line per image (the image and its annotations) in a scratch file, plus an index.
  ImageIndex index;
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
        throw UsageError("shard " + std::to_string(i) + " ('" + printable(outputs.at(i)) +
                         "') is not a complete COCO file written by sam2-amg (truncated or corrupt): remove it and " +
                         printable(files.markers.at(i)) + ", then run shard " + std::to_string(i) + " again");
      const json recorded = shard["info"].value("sam2_amg", json());
      check_shard_output(recorded, markers[static_cast<size_t>(i)],
                         static_cast<std::int64_t>(shard["images"].size()), i, outputs.at(i));
      if (i == 0) info = shard["info"];
      provenances.push_back(recorded);
      std::map<std::int64_t, json> anns;
      for (json& a : shard["annotations"]) anns[a["image_id"].get<std::int64_t>()].push_back(std::move(a));
      for (json& img : shard["images"]) {
        const std::int64_t id = img["id"].get<std::int64_t>();
        const std::string path = img.value("path", img.value("file_name", std::string()));
        const json identity = img.value("input", json());
        json line{{"image", img}, {"annotations", anns.count(id) ? std::move(anns[id]) : json::array()}};
        index.add(identity, path, i, tmp.tellp(), outputs.at(i));
        tmp << dump_json(line) << '\n';
      }
    }
    if (!tmp.flush()) throw OutputError(scratch, "write failed (disk full?)");
  }
  index.sort();

  // Pass 2: the final file, renumbered, written atomically.
  // Shards of one run only; the merged file records that run, unsharded, with every shard's
  // unreadable inputs.
  info["sam2_amg"] = merged_provenance(provenances, out);
  info["sam2_amg"]["run"] = merged_run_end(markers);
  std::ifstream tmp(scratch, std::ios::binary);
  info["merged_shards"] = count;
  const CocoCounts n = write_coco_document(out, info, [&](const CocoEntryVisitor& visit) {
    for (const ImageIndex::Entry& e : index.entries) {
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

MergeReport merge_jsonl_shards(const std::string& out, int expected_count, const std::string& markers_of) {
  ShardFiles files = find_coco_shards(out, expected_count);
  if (!markers_of.empty()) {
    // The run's marker sits beside --out or in --out-dir when it had those (plan_outputs).
    const bool dir = fs::is_directory(markers_of);
    const ShardFiles marked = dir ? find_dir_shards(markers_of, expected_count) : find_coco_shards(markers_of, expected_count);
    if (marked.count != 0 && files.count != 0 && marked.count != files.count)
      throw UsageError("the shards of '" + printable(out) + "' and '" + printable(markers_of) +
                       "' disagree on the shard count");
    files.markers = marked.markers;
    files.count = std::max(files.count, marked.count);
  }
  const int count = files.count;
  if (count == 0)
    throw UsageError("no shard outputs like '" + printable(shard_path(out, {0, 1})) +
                     "' found: was the run sharded with --jsonl " + printable(out) + "?");
  MergeReport report = check(files);
  for (int i = 0; i < count; ++i)  // a marker without its JSONL file: that shard wrote none
    if (files.markers.count(i) && !files.outputs.count(i)) report.missing.push_back(i);
  if (!report.ok()) return report;
  const std::vector<json> markers = check_shard_markers(files.markers, count);

  // Pass 1: index every image line by path; the lines stay in the shard files.
  ImageIndex index;
  std::vector<json> provenances;
  for (int i = 0; i < count; ++i) {
    const std::string& path = files.outputs.at(i);
    std::ifstream in(path, std::ios::binary);
    std::string s;
    json record = std::getline(in, s) ? json::parse(s, nullptr, false) : json();
    if (!record.is_object() || record.value("type", std::string()) != "run" || !record.contains("sam2_amg"))
      throw UsageError("shard " + std::to_string(i) + " ('" + printable(path) +
                       "') does not start with a sam2-amg run record (truncated or corrupt): remove it and " +
                       printable(files.markers.at(i)) + ", then run shard " + std::to_string(i) + " again");
    std::int64_t images = 0;
    for (std::streamoff at = in.tellg(); std::getline(in, s); at = in.tellg()) {
      const json line = json::parse(s, nullptr, false);
      if (in.eof() || line.is_discarded() || !line.is_object())
        throw UsageError("shard " + std::to_string(i) + " ('" + printable(path) +
                         "') holds a torn or corrupt line: remove it and " + printable(files.markers.at(i)) +
                         ", then run shard " + std::to_string(i) + " again");
      if (line.value("type", std::string()) != "image" || !line.contains("image") || !line["image"].is_object())
        continue;  // readers skip other types; so does merge
      ++images;
      report.annotations += static_cast<std::int64_t>(line.value("annotations", json::array()).size());
      index.add(line.value("input", json()), line["image"].value("path", std::string()), i, at, path);
    }
    check_shard_output(record["sam2_amg"], markers[static_cast<size_t>(i)], images, i, path);
    provenances.push_back(record["sam2_amg"]);
  }
  index.sort();
  json run = merged_provenance(provenances, "");
  run["run"] = merged_run_end(markers);
  AtomicFile merged(out);
  merged.put(dump_json({{"type", "run"}, {"sam2_amg", run}}) + "\n");
  std::vector<std::ifstream> shards;
  for (int i = 0; i < count; ++i) shards.emplace_back(files.outputs.at(i), std::ios::binary);
  for (const ImageIndex::Entry& e : index.entries) {
    std::ifstream& in = shards[static_cast<size_t>(e.shard)];
    in.clear();
    in.seekg(e.offset);
    std::string s;
    std::getline(in, s);
    merged.put(s + "\n");
  }
  merged.commit();
  report.images = static_cast<std::int64_t>(index.entries.size());
  return report;
}

}  // namespace sam2amg
