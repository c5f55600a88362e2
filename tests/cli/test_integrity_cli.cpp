// Dataset-scale integrity, end to end: merge refuses shards that are not what their names say or
// not of one run; config and grid files are read only when they are regular files below a cap.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "io/inputs.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "io/shards.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The CLI fixture (quiet, 4 points per side) with a folder of 12 small images (sub/ holds 4).
struct ShardCorpus : CliFixture {
  ShardCorpus() {
    flags = "-q --progress none";
    points_per_side = 4;
    for (int i = 0; i < 12; ++i)
      add_image(std::string(i < 4 ? "sub/im" : "im") + std::to_string(i) + ".png",
                make_image(48, 40, kBlack, {{2 + i, 4, 30, 20, kRed}, {20, 24, 44, 36, kBlue}}));
  }
  // Runs every shard of 2; the input of shard `odd` may differ.
  void run_shards(const std::string& outputs, const std::string& odd_args = "", int odd = -1) const {
    for (int i = 0; i < 2; ++i)
      REQUIRE(run_command(command("--recursive --input " + images + " " + outputs + " --shard " + std::to_string(i) +
                                  "/2 " + (i == odd ? odd_args : ""))) == 0);
  }
  // merge's exit status; its stderr in `err`.
  int merge(const std::string& args, std::string* err = nullptr) const {
    const CliResult r = run_binary("merge " + args);
    if (err) *err = r.err;
    return r.rc;
  }
};

}  // namespace

TEST_CASE("merge refuses a shard file copied over another shard's name", "[cli][merge][integrity]") {
  ShardCorpus c;
  const std::string out = c.dir.file("m.json");
  c.run_shards("--out " + out);
  REQUIRE(c.merge("-q --out " + out) == 0);
  CHECK(json::parse(slurp(out))["images"].size() == 12);
  fs::remove(out);
  const std::string shard1 = shard_path(out, {1, 2}), kept = c.dir.file("shard1.json");
  fs::copy_file(shard1, kept);
  // Shard 0's file under shard 1's name: shard 0's images twice, shard 1's lost.
  fs::copy_file(shard_path(out, {0, 2}), shard1, fs::copy_options::overwrite_existing);
  std::string err;
  CHECK(c.merge("--out " + out, &err) == 2);
  CHECK(err.find("shard 1 ('" + shard1 + "') holds the output of shard 0 of 2") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // A marker copied over another's: refused the same way.
  fs::copy_file(kept, shard1, fs::copy_options::overwrite_existing);
  fs::copy_file(shard_done_path(out, {0, 2}), shard_done_path(out, {1, 2}), fs::copy_options::overwrite_existing);
  CHECK(c.merge("--out " + out, &err) == 2);
  CHECK(err.find("records shard 0 of 2, not its name's 1 of 2") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
}

TEST_CASE("merge refuses shards run on different input sets, or another config, for --out-dir and --jsonl too",
          "[cli][merge][integrity]") {
  ShardCorpus c;
  std::string err;
  SECTION("--out: shard 1 given only the sub-folder") {
    const std::string out = c.dir.file("m.json");
    c.run_shards("--out " + out);
    fs::remove(shard_path(out, {1, 2}));
    fs::remove(shard_done_path(out, {1, 2}));
    REQUIRE(run_command(c.command("--input " + c.images + "/sub --out " + out + " --shard 1/2")) == 0);
    CHECK(c.merge("--out " + out, &err) == 2);
    CHECK(err.find("shard 1 was run on another set of inputs") != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  }
  SECTION("--out-dir: shard 1 with another box_nms_thresh") {
    const std::string od = c.dir.file("od");
    c.run_shards("--out-dir " + od, "--box-nms-thresh 0.5", 1);
    CHECK(c.merge("--out-dir " + od, &err) == 2);
    CHECK(err.find("shard 1 was made with another config ('box_nms_thresh: 0.5'") != std::string::npos);
  }
  SECTION("--out-dir: one run, merged run.json records it unsharded") {
    const std::string od = c.dir.file("od");
    c.run_shards("--out-dir " + od);
    REQUIRE(c.merge("-q --out-dir " + od) == 0);
    const json run = json::parse(slurp(od + "/run.json"));
    CHECK(run.count("shard") == 0);
    CHECK(run["config"].get<std::string>().find("\nshard: \"\"\n") != std::string::npos);
    CHECK(run["merged_shards"] == 2);
  }
  SECTION("--jsonl: shards merge into one file in input order; a copied shard is refused") {
    const std::string jl = c.dir.file("m.jsonl"), single = c.dir.file("single.jsonl");
    REQUIRE(run_command(c.command("--recursive --input " + c.images + " --jsonl " + single)) == 0);
    c.run_shards("--jsonl " + jl);
    REQUIRE(c.merge("-q --jsonl " + jl, &err) == 0);
    std::ifstream a(jl), b(single);
    std::string la, lb;
    std::getline(a, la);
    std::getline(b, lb);
    CHECK(json::parse(la)["type"] == "run");
    std::vector<json> merged, one;
    while (std::getline(a, la)) merged.push_back(json::parse(la));
    while (std::getline(b, lb)) one.push_back(json::parse(lb));
    REQUIRE(merged.size() == 12);
    REQUIRE(one.size() == 12);
    for (size_t i = 0; i < 12; ++i) {
      CHECK(merged[i]["image"] == one[i]["image"]);
      CHECK(merged[i]["annotations"] == one[i]["annotations"]);
    }
    fs::remove(jl);
    fs::copy_file(shard_path(jl, {0, 2}), shard_path(jl, {1, 2}), fs::copy_options::overwrite_existing);
    CHECK(c.merge("--jsonl " + jl, &err) == 2);
    CHECK(err.find("shard 1") != std::string::npos);
    CHECK_FALSE(fs::exists(jl));
  }
}

TEST_CASE("The merged file lists every shard's unreadable inputs", "[cli][merge][integrity]") {
  ShardCorpus c;
  // One unreadable input in each shard.
  std::vector<InputFile> broken(2);
  for (int k = 0; k < 64; ++k) {
    const InputFile in{c.images + "/bad" + std::to_string(k) + ".png", "bad" + std::to_string(k) + ".png", ""};
    InputFile& slot = broken[shard_key(in) % 2];
    if (slot.path.empty()) slot = in;
  }
  REQUIRE_FALSE(broken[0].path.empty());
  REQUIRE_FALSE(broken[1].path.empty());
  for (const InputFile& in : broken) std::ofstream(in.path) << "not an image";
  const std::string out = c.dir.file("m.json");
  for (int i = 0; i < 2; ++i)
    CHECK(run_command(c.command("--recursive --input " + c.images + " --out " + out + " --shard " + std::to_string(i) +
                                "/2 2>/dev/null")) == 4);
  REQUIRE(c.merge("-q --out " + out) == 0);
  const json merged = json::parse(slurp(out));
  CHECK(merged["images"].size() == 12);
  std::set<std::string> unreadable;
  for (const json& u : merged["info"]["sam2_amg"]["run"]["unreadable"]) unreadable.insert(u["path"]);
  CHECK(unreadable == std::set<std::string>{broken[0].path, broken[1].path});
  CHECK(merged["info"]["sam2_amg"].count("shard") == 0);
}

TEST_CASE("merge finds the shards of --shard I/100000", "[cli][merge][integrity]") {
  ShardCorpus c;
  const std::string out = c.dir.file("m.json");
  REQUIRE(run_command(c.command("--recursive --input " + c.images + " --out " + out + " --shard 3/100000")) == 0);
  CHECK(fs::exists(c.dir.file("m.shard-00003-of-100000.done.json")));
  std::string err;
  // Found, so the other 99999 are reported missing (exit 6), not "no shard outputs" (exit 2).
  CHECK(c.merge("--out " + out, &err) == 6);
  CHECK(err.find("shards with no output: 0, 1, 2, 4,") != std::string::npos);
}

TEST_CASE("Config and grid files are read only when regular and below a cap: FIFOs and devices exit 2",
          "[cli][limits][integrity]") {
  ShardCorpus c;
  const std::string fifo = c.dir.file("fifo.yaml");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  const std::string out = " --input " + c.images + "/im5.png --out " + c.dir.file("o.json");
  const std::string log = c.dir.file("err.txt");
  // timeout: reading a FIFO without a writer would wait forever.
  CHECK(run_command("timeout 60 " + c.command("--config " + fifo + out + " 2> " + log)) == 2);
  CHECK(slurp(log).find("not a regular file (a FIFO)") != std::string::npos);
  CHECK(run_command("timeout 60 " + c.command("--point-grids " + fifo + out + " 2> " + log)) == 2);
  CHECK(slurp(log).find("not a regular file (a FIFO)") != std::string::npos);
  // An endless device: refused before reading (the memory limit stops a reader that tries).
  CHECK(run_command("bash -c 'ulimit -v 6000000; timeout 60 " + c.command("--config /dev/urandom" + out) + "' 2> " +
                    log) == 2);
  CHECK(slurp(log).find("character device") != std::string::npos);
  // A regular file above the cap.
  const std::string big = c.dir.file("big.yaml");
  { std::ofstream(big) << "points_per_side: 4\n"; }
  fs::resize_file(big, std::uintmax_t{17} << 20);
  CHECK(run_command("timeout 60 " + c.command("--config " + big + out + " 2> " + log)) == 2);
  CHECK(slurp(log).find("above the limit of 16.0 MiB") != std::string::npos);
  CHECK_FALSE(fs::exists(c.dir.file("o.json")));
}
