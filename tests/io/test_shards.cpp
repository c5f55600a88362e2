#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>

#include "common/error.h"
#include "io/merge.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "io/sha256.h"
#include "io/shards.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

std::vector<InputFile> names(int n, const std::string& prefix = "img") {
  std::vector<InputFile> v;
  for (int i = 0; i < n; ++i) v.push_back({"/data/" + prefix + std::to_string(i) + ".jpg", prefix + std::to_string(i) + ".jpg"});
  return v;
}

EnvLookup env_of(std::map<std::string, std::string> vars) {
  return [vars](const char* k) {
    const auto it = vars.find(k);
    return it == vars.end() ? std::string() : it->second;
  };
}

}  // namespace

TEST_CASE("Shards partition the inputs and never move an input", "[io][shards]") {
  const auto inputs = names(1000);
  for (int n : {1, 3, 16}) {
    std::multiset<std::string> seen;
    std::vector<size_t> sizes;
    for (int i = 0; i < n; ++i) {
      const auto part = inputs_of_shard(inputs, {i, n});
      sizes.push_back(part.size());
      for (const auto& in : part) seen.insert(in.path);
    }
    CHECK(seen.size() == inputs.size());                                  // every input once...
    CHECK(std::set<std::string>(seen.begin(), seen.end()).size() == inputs.size());  // ...and only once
    for (size_t s : sizes) CHECK(s > inputs.size() / n / 2);               // and roughly balanced
  }
  // Reordering or growing the input list keeps every input in its shard.
  auto shuffled = inputs;
  std::shuffle(shuffled.begin(), shuffled.end(), std::mt19937(5));
  auto grown = inputs;
  for (const auto& extra : names(500, "new")) grown.push_back(extra);
  const auto a = inputs_of_shard(inputs, {3, 16});
  const auto b = inputs_of_shard(shuffled, {3, 16});
  const auto c = inputs_of_shard(grown, {3, 16});
  CHECK(std::set<std::string>{} == [&] {
    std::set<std::string> missing;
    for (const auto& in : a) {
      if (std::find(b.begin(), b.end(), in) == b.end()) missing.insert(in.path);
      if (std::find(c.begin(), c.end(), in) == c.end()) missing.insert(in.path);
    }
    return missing;
  }());
  CHECK(b.size() == a.size());
  CHECK(shard_key({"/x/a.jpg", "a.jpg"}) == shard_key({"/elsewhere/a.jpg", "a.jpg"}));  // the name is the key
}

TEST_CASE("The shard comes from the flag, Slurm or Kubernetes", "[io][shards]") {
  const auto none = env_of({});
  CHECK_FALSE(resolve_shard("", 0, none).has_value());
  const auto s = resolve_shard("3/16", 0, none);
  REQUIRE(s);
  CHECK(s->index == 3);
  CHECK(s->count == 16);
  CHECK_THROWS_AS(resolve_shard("16/16", 0, none), UsageError);
  CHECK_THROWS_AS(resolve_shard("3", 0, none), UsageError);
  const auto slurm = env_of({{"SLURM_ARRAY_TASK_ID", "12"}, {"SLURM_ARRAY_TASK_COUNT", "4"}, {"SLURM_ARRAY_TASK_MIN", "10"}});
  const auto from_slurm = resolve_shard("", 0, slurm);
  REQUIRE(from_slurm);
  CHECK(from_slurm->index == 2);  // --array=10-13
  CHECK(from_slurm->count == 4);
  CHECK_FALSE(resolve_shard("none", 0, slurm).has_value());
  CHECK(resolve_shard("1/2", 0, slurm)->index == 1);  // the flag wins
  const auto k8s = env_of({{"JOB_COMPLETION_INDEX", "5"}});
  CHECK_THROWS_AS(resolve_shard("", 0, k8s), UsageError);  // N unknown
  CHECK(resolve_shard("", 8, k8s)->index == 5);
  CHECK(resolve_shard("", 0, env_of({{"JOB_COMPLETION_INDEX", "5"}, {"SAM2AMG_SHARD_COUNT", "6"}}))->count == 6);
  CHECK(shard_label({42, 1000}) == "shard-00042-of-01000");
  CHECK(shard_path("out/masks.json", {42, 1000}) == "out/masks.shard-00042-of-01000.json");
  CHECK(shard_done_path("out/masks.json", {42, 1000}) == "out/masks.shard-00042-of-01000.done.json");
}

namespace {

// A shard's identity as run_job records it: shard `s` of a run of `inputs` inputs.
ShardIdentity identity(const Shard& s, std::size_t inputs, std::size_t assigned) {
  return {s.index, s.count, "inputs-digest", inputs, assigned};
}

// Commits shard `s` of `out` as a run would: its done marker, after `images` inputs.
void commit(const std::string& out, const Shard& s, const Provenance& p, std::size_t images) {
  OutputPaths paths;
  paths.shard = s;
  paths.done_marker = shard_done_path(out, s);
  commit_shard(paths, p, RunEnd{}, {images, 0, 0});
}

}  // namespace

TEST_CASE("merge renumbers ids in input order and refuses unfinished shards", "[io][shards][merge]") {
  TempDir dir;
  const std::string out = dir.file("m.json");
  const Provenance prov{"1", "m.pt", "sha", "", "apply"};
  auto shard_prov = [&](int i) {
    Provenance p = prov;
    p.shard = identity({i, 2}, 4, 2);
    return p;
  };
  const ImageU8 img = make_image(4, 4, kBlack, {});
  auto rec = [](std::uint32_t ones) {
    MaskRecord r;
    r.segmentation = {4, 4, {16 - ones, ones}};
    r.area = ones;
    return r;
  };
  // Shard 0 holds b and d, shard 1 holds a and c: the merge interleaves them by path.
  const std::vector<std::vector<std::pair<std::string, int>>> shards = {{{"b", 2}, {"d", 0}}, {{"a", 1}, {"c", 3}}};
  for (int i = 0; i < 2; ++i) {
    auto w = make_coco_writer(shard_path(out, {i, 2}), SegmentationFormat::kCompressedRle, shard_prov(i), false);
    for (const auto& [name, n] : shards[i]) {
      std::vector<MaskRecord> rs;
      for (int k = 0; k < n; ++k) rs.push_back(rec(k + 1));
      w->write({{"/d/" + name + ".png", name + ".png"}, 4, 4}, img, rs);
    }
    w->finish(true);
  }
  commit(out, {0, 2}, shard_prov(0), 2);
  MergeReport r = merge_coco_shards(out, 0);
  CHECK(r.incomplete == std::vector<int>{1});
  CHECK_FALSE(fs::exists(out));  // nothing written while a shard is unfinished
  commit(out, {1, 2}, shard_prov(1), 2);
  r = merge_coco_shards(out, 0);
  REQUIRE(r.ok());
  CHECK(r.images == 4);
  CHECK(r.annotations == 6);
  std::ifstream in(out);
  const json j = json::parse(in);
  std::vector<std::string> order;
  for (const json& i : j["images"]) order.push_back(i["file_name"]);
  CHECK(order == std::vector<std::string>{"a.png", "b.png", "c.png", "d.png"});
  for (size_t k = 0; k < 4; ++k) CHECK(j["images"][k]["id"] == k + 1);
  std::vector<std::pair<int, int>> ann;  // (id, image_id)
  for (const json& a : j["annotations"]) ann.emplace_back(a["id"], a["image_id"]);
  CHECK(ann == std::vector<std::pair<int, int>>{{1, 1}, {2, 2}, {3, 2}, {4, 3}, {5, 3}, {6, 3}});
  CHECK_THROWS_AS(merge_coco_shards(out, 3), UsageError);  // the files say 2 shards
}

namespace {

// The provenance a shard of `config` records, as run_job builds it (its own output, its shard).
Provenance shard_provenance(RunConfig config, const std::string& out, const Shard& shard, const std::string& sha) {
  config.io.out = shard_path(out, shard);
  config.io.shard = std::to_string(shard.index) + "/" + std::to_string(shard.count);
  return {"1", config.io.model, sha, to_yaml(config), "apply", identity(shard, 2, 1)};
}

// Writes shard `shard` of a run with one image `name`, and its done marker.
void write_shard(const std::string& out, const Shard& shard, const Provenance& p, const std::string& name) {
  auto w = make_coco_writer(shard_path(out, shard), SegmentationFormat::kCompressedRle, p, false);
  w->write({{"/d/" + name, name, ""}, 4, 4}, make_image(4, 4, kBlack, {}), {});
  w->finish(true);
  commit(out, shard, p, 1);
}

std::string usage_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    CHECK(e.exit_code() == 2);
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("merge records one unsharded run, and refuses shards of another config or model", "[io][shards][merge]") {
  TempDir dir;
  const std::string out = dir.file("m.json");
  RunConfig config;
  config.io.model = "model.pt";
  config.io.input = {"/d"};
  RunConfig other_input = config;  // a shard given one more input folder: merged as a union
  other_input.io.input = {"/d", "/e"};
  other_input.io.device = Device("cpu");
  write_shard(out, {0, 2}, shard_provenance(config, out, {0, 2}, "sha"), "a.png");
  write_shard(out, {1, 2}, shard_provenance(other_input, out, {1, 2}, "sha"), "b.png");
  REQUIRE(merge_coco_shards(out, 0).ok());
  const json info = json::parse(slurp(out))["info"];
  RunConfig expected = config;
  expected.io.out = out;
  expected.io.input = {"/d", "/e"};
  // No shard, this file as the output, the union of the inputs; the devices differed: auto.
  CHECK(info["sam2_amg"]["config"] == to_yaml(expected, YamlKeys::kRecorded));
  CHECK(info["sam2_amg"]["config_sha256"] == sha256_hex(to_yaml(expected, YamlKeys::kRecorded)));
  CHECK(info["sam2_amg"]["model_sha256"] == "sha");
  CHECK(info["merged_shards"] == 2);
  fs::remove(out);

  // Shard 1 with another points_per_side: refused, named, nothing written.
  RunConfig denser = config;
  denser.amg.points_per_side = 16;
  write_shard(out, {1, 2}, shard_provenance(denser, out, {1, 2}, "sha"), "b.png");
  std::string m = usage_error_of([&] { merge_coco_shards(out, 0); });
  CHECK(m.find("shard 1 was made with another config ('points_per_side: 16' where shard 0 has "
               "'points_per_side: 32')") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // Another model: refused.
  write_shard(out, {1, 2}, shard_provenance(config, out, {1, 2}, "other-sha"), "b.png");
  CHECK(usage_error_of([&] { merge_coco_shards(out, 0); }).find("shard 1 was made with another model") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("merge reports a truncated shard as bad input naming it, and leaves no temporary file", "[io][shards][merge]") {
  TempDir dir;
  const std::string out = dir.file("m.json");
  RunConfig config;
  for (int i = 0; i < 2; ++i)
    write_shard(out, {i, 2}, shard_provenance(config, out, {i, 2}, "sha"), "im" + std::to_string(i) + ".png");
  const std::string shard1 = shard_path(out, {1, 2});
  const std::string text = slurp(shard1);
  std::ofstream(shard1, std::ios::trunc) << text.substr(0, text.size() / 2);
  const std::string m = usage_error_of([&] { merge_coco_shards(out, 0); });
  CHECK(m.find("shard 1 ('" + shard1 + "') is not a complete COCO file") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // Only the shards and their markers: no scratch or temporary file.
  std::vector<std::string> files;
  for (const auto& e : fs::directory_iterator(dir.path())) files.push_back(e.path().filename().string());
  std::sort(files.begin(), files.end());
  CHECK(files == std::vector<std::string>{"m.shard-00000-of-00002.done.json", "m.shard-00000-of-00002.json",
                                          "m.shard-00001-of-00002.done.json", "m.shard-00001-of-00002.json"});
  CHECK(unshard_path("out/m.shard-00001-of-00002.jsonl") == "out/m.jsonl");
  CHECK(unshard_path("out/m.jsonl") == "out/m.jsonl");
}

TEST_CASE("A YOLO folder: one manifest per shard, the marker in the folder when nothing else holds it",
          "[io][shards][yolo]") {
  IoOptions io;
  io.yolo = "labels";
  OutputPaths p = plan_outputs(io, std::nullopt);
  CHECK(p.yolo_manifest == "labels/sam2_amg.jsonl");
  CHECK(p.done_marker.empty());
  p = plan_outputs(io, Shard{1, 4});
  CHECK(p.yolo == "labels");  // shards share the label folder...
  CHECK(p.yolo_manifest == "labels/sam2_amg.shard-00001-of-00004.jsonl");  // ...each with its manifest
  CHECK(p.done_marker == "labels/shard-00001-of-00004.done.json");
  io.jsonl = "m.jsonl";
  CHECK(plan_outputs(io, Shard{1, 4}).done_marker == "m.shard-00001-of-00004.done.json");
}
