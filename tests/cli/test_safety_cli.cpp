// The real binary against inputs and outputs that could lose data: odd names, a second run on
// the same outputs, outputs that name inputs or each other.
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "io/inputs.h"
#include "io/shards.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The CLI fixture (quiet) with a folder `in` of small images with the given names.
struct SafetyCorpus : CliFixture {
  explicit SafetyCorpus(const std::vector<std::string>& names) {
    flags = "-q";
    add_images(names);
  }
  // Runs `first` in the background; once its journal `journal` holds `lines` lines, runs `during`
  // and records its exit status in `rc_file`, and whether `first` was still running then in
  // `alive_file`; then waits for `first` and returns its exit status.
  int run_during(const std::string& first, const std::string& journal, int lines, const std::string& during,
                 const std::string& rc_file, const std::string& alive_file) const {
    return bash(first + " & pid=$!; " + wait_for_lines(journal, lines) + "; " + during + "; echo $? > " + rc_file +
                    "; if kill -0 $pid 2>/dev/null; then echo yes > " + alive_file + "; fi; wait $pid",
                "run_during.sh");
  }
};

}  // namespace

TEST_CASE("Inputs named '...png' and '..png' write inside --out-dir and touch nothing outside", "[cli][safety]") {
  SafetyCorpus c({"...png", "..png", "plain.png"});
  std::ofstream(c.dir.file("canary.txt")) << "outside";
  const std::string out = c.dir.file("out");
  REQUIRE(run_command(c.command("--input " + c.images + " --out-dir " + out)) == 0);
  CHECK(slurp(c.dir.file("canary.txt")) == "outside");
  CHECK(fs::exists(c.model));
  for (const char* stem : {"%2E%2E", "%2E", "plain"}) {
    INFO(stem);
    CHECK(slurp(out + "/" + stem + "/metadata.csv").find("\n2,") != std::string::npos);  // three masks
  }
  // The RLE modes: "<stem>.json" files, also inside.
  REQUIRE(run_command(c.command("--output-mode coco_rle --input " + c.images + " --out-dir " + c.dir.file("rle"))) == 0);
  CHECK(json::parse(slurp(c.dir.file("rle/%2E%2E.json")))["image"]["file_name"] == "...png");
  CHECK(json::parse(slurp(c.dir.file("rle/%2E.json")))["image"]["file_name"] == "..png");
  CHECK(slurp(c.dir.file("canary.txt")) == "outside");
}

namespace {

std::vector<std::string> numbered(int n) {
  std::vector<std::string> names;
  for (int i = 0; i < n; ++i) names.push_back("img" + std::to_string(100 + i) + ".png");
  return names;
}

}  // namespace

TEST_CASE("A second run on the same outputs fails at once with exit 2, the first one is not harmed",
          "[cli][safety][lock]") {
  SafetyCorpus c(numbered(40));
  const std::string out = c.dir.file("m.json"), dir = c.dir.file("d"), jsonl = c.dir.file("m.jsonl");
  const std::string first = c.command("--input " + c.images + " --out " + out + " --out-dir " + dir + " --jsonl " + jsonl, 16);
  // --overwrite: without the lock nothing would stop the second run.
  const std::string second = c.command("--overwrite --input " + c.images);
  const std::string during = second + " --out " + out + " 2> " + c.dir.file("e1.txt") + "; r1=$?; " + second +
                             " --out-dir " + dir + " 2> " + c.dir.file("e2.txt") + "; r2=$?; " + second + " --jsonl " +
                             jsonl + " 2> " + c.dir.file("e3.txt") + "; r3=$?; echo $r1 $r2 $r3 > " +
                             c.dir.file("rcs.txt") + "; true";
  CHECK(c.run_during(first, out + ".partial.jsonl", 3, during, c.dir.file("rc.txt"), c.dir.file("alive.txt")) == 0);
  REQUIRE(slurp(c.dir.file("alive.txt")) == "yes\n");  // the second runs really overlapped the first
  CHECK(slurp(c.dir.file("rcs.txt")) == "2 2 2\n");
  CHECK(slurp(c.dir.file("e1.txt")).find("another sam2-amg run is writing '" + out + "'") != std::string::npos);
  CHECK(slurp(c.dir.file("e2.txt")).find("another sam2-amg run is writing '" + dir + "'") != std::string::npos);
  CHECK(slurp(c.dir.file("e3.txt")).find("another sam2-amg run is writing '" + jsonl + "'") != std::string::npos);
  // The first run's outputs are whole, and no lock file is left.
  CHECK(json::parse(slurp(out))["images"].size() == 40);
  const std::string lines = slurp(jsonl);
  CHECK(std::count(lines.begin(), lines.end(), '\n') == 1 + 40);  // the run record, then the images
  CHECK_FALSE(fs::exists(out + ".lock"));
  CHECK_FALSE(fs::exists(jsonl + ".lock"));
  CHECK_FALSE(fs::exists(dir + "/.sam2amg.lock"));
}

TEST_CASE("A journal removed mid-run is an error (exit 5), never an empty file and exit 0", "[cli][safety]") {
  SafetyCorpus c(numbered(40));
  const std::string out = c.dir.file("m.json");
  const std::string first = c.command("--input " + c.images + " --out " + out + " 2> " + c.dir.file("err.txt"), 16);
  CHECK(c.run_during(first, out + ".partial.jsonl", 3, "rm " + out + ".partial.jsonl", c.dir.file("rc.txt"),
                     c.dir.file("alive.txt")) == 5);
  REQUIRE(slurp(c.dir.file("alive.txt")) == "yes\n");
  CHECK_FALSE(fs::exists(out));
  CHECK(slurp(c.dir.file("err.txt")).find("the run recorded 40 images but its journal holds 0") != std::string::npos);
  // Nothing half-written is left beside it.
  for (const auto& e : fs::directory_iterator(c.dir.path()))
    CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
}

TEST_CASE("Outputs that name an input or each other, and existing outputs, are refused with exit 2",
          "[cli][safety][clobber]") {
  SafetyCorpus c({"a.png", "b.png"});
  const std::string input = c.images + "/a.png";
  const std::string a_bytes = slurp(input);
  const std::string base = c.command("--input " + c.images);
  auto refused = [&](const std::string& args, const std::string& message) {
    INFO(args);
    CHECK(run_command(base + " " + args + " 2> " + c.dir.file("e.txt")) == 2);
    const std::string err = slurp(c.dir.file("e.txt"));
    INFO(err);
    CHECK(err.find(message) != std::string::npos);
  };
  refused("--out " + input, "--out '" + input + "' is also an input");
  refused("--jsonl " + c.images + "/../in/b.png", "is also an input");
  refused("--out " + c.dir.file("x.json") + " --jsonl " + c.dir.file("x.json"), "is also --out");
  std::ofstream(c.dir.file("list.txt")) << input << "\n";
  CHECK(run_command(c.command("--input-list " + c.dir.file("list.txt") + " --jsonl " + c.dir.file("list.txt") +
                          " 2>/dev/null")) == 2);
  CHECK(slurp(input) == a_bytes);
  CHECK(slurp(c.dir.file("list.txt")) == input + "\n");
  CHECK_FALSE(fs::exists(c.dir.file("x.json")));

  // An existing output: refused, kept byte for byte, until --overwrite or --resume says what to do.
  const std::string out = c.dir.file("m.json");
  std::ofstream(out) << "precious";
  refused("--out " + out, "--out '" + out + "' exists: give --resume to continue the run that wrote it, or "
                          "--overwrite to replace it");
  CHECK(slurp(out) == "precious");
  refused("--out " + out + " --resume --overwrite", "--resume and --overwrite exclude each other");
  REQUIRE(run_command(base + " --out " + out + " --overwrite") == 0);
  CHECK(json::parse(slurp(out))["images"].size() == 2);
  const std::string jsonl = c.dir.file("m.jsonl");
  std::ofstream(jsonl) << "precious\n";
  refused("--jsonl " + jsonl, "--jsonl '" + jsonl + "' exists");
  CHECK(slurp(jsonl) == "precious\n");
  REQUIRE(run_command(base + " --out-dir " + c.dir.file("d")) == 0);
  refused("--out-dir " + c.dir.file("d"), "holds an earlier run's outputs");
  REQUIRE(run_command(base + " --out-dir " + c.dir.file("d") + " --resume") == 0);
  // An empty file (mktemp) is not an output yet; a bad model leaves no empty --out-dir behind.
  std::ofstream(c.dir.file("empty.json")).flush();
  CHECK(run_command(base + " --out " + c.dir.file("empty.json")) == 0);
  CHECK(c.run_binary("--model " + c.dir.file("none.pt") + " --input " + c.images + " --out-dir " + c.dir.file("never"))
            .rc == 3);
  CHECK_FALSE(fs::exists(c.dir.file("never")));
}

TEST_CASE("Impossible values and a folder as --config fail before any work with exit 2", "[cli][safety][values]") {
  SafetyCorpus c({"a.png"});
  const std::string out = c.dir.file("m.json");
  const std::string base = c.command("--input " + c.images + " --out " + out);
  CHECK(run_command(base + " --pred-iou-thresh 2 2> " + c.dir.file("e1.txt")) == 2);
  CHECK(slurp(c.dir.file("e1.txt")).find("pred_iou_thresh = 2: expected a value in [0, 1]") != std::string::npos);
  CHECK(run_command(base + " --stability-score-thresh 1.5 2>/dev/null") == 2);
  std::ofstream(c.dir.file("huge.yaml")) << "points_per_side: 100000\n";
  const CliResult huge = c.run_binary("--config " + c.dir.file("huge.yaml") + " --model " + c.model + " --input " +
                                      c.images + " --out " + out);
  CHECK(huge.rc == 2);
  CHECK(huge.err.find("points_per_side = 100000") != std::string::npos);
  CHECK(run_command(base + " --config " + c.images + " 2> " + c.dir.file("e3.txt")) == 2);
  CHECK(slurp(c.dir.file("e3.txt")).find("is a folder") != std::string::npos);
  CHECK_FALSE(fs::exists(out));
  // --help states the range of both thresholds.
  const CliResult r = c.run_binary("--help");
  REQUIRE(r.rc == 0);
  const std::string& help = r.out;
  const size_t at = help.find("--stability-score-thresh");
  REQUIRE(at != std::string::npos);
  CHECK(help.substr(at, help.find("--stability-score-offset") - at).find("[0, 1]") != std::string::npos);
}

TEST_CASE("An image that needs more memory than there is is skipped, named, exit 4, the run goes on",
          "[cli][safety][memlimit]") {
  if (test_device() != "cpu") SAM2AMG_SKIP("the address-space limit it sets is for the CPU; the device is " + test_device());
  SafetyCorpus c({"small.png"});
  // 4000 x 4000: the reference post-processing upsamples 64 x 3 float masks of 16 M pixels
  // (12 GB) per decoder batch; the address space is limited to 4 GB.
  c.add_image("big.png", make_image(4000, 4000, kBlack, {{0, 0, 2000, 4000, kRed}}));
  const std::string out = c.dir.file("m.json");
  const int rc = run_command("bash -c 'ulimit -v 4000000; " +
                             c.command("--postprocess reference --input " + c.images + " --out " + out, 4) + "' 2> " +
                             c.dir.file("err.txt"));
  const std::string err = slurp(c.dir.file("err.txt"));
  INFO(err);
  CHECK(rc == 4);  // not 75: retrying the same image cannot help
  CHECK(err.find("skipped '" + c.images + "/big.png': ") != std::string::npos);
  CHECK(err.find("memory") != std::string::npos);
  const json j = json::parse(slurp(out));
  REQUIRE(j["images"].size() == 1);  // the image after it was processed
  CHECK(j["images"][0]["file_name"] == "small.png");
}

TEST_CASE("Resuming refuses --jsonl and --out-dir outputs of another config (exit 2), keeps them unchanged",
          "[cli][safety][resume]") {
  SafetyCorpus c({"a.png"});
  const std::string jsonl = c.dir.file("m.jsonl"), dir = c.dir.file("d");
  REQUIRE(run_command(c.command("--input " + c.images + " --jsonl " + jsonl + " --out-dir " + dir)) == 0);
  fs::copy_file(c.images + "/a.png", c.images + "/b.png");  // the input folder grows
  const std::string lines = slurp(jsonl), meta = slurp(dir + "/a/metadata.csv");
  // Another points_per_side: its results must not be appended to the first run's.
  CHECK(run_command(c.command("--resume --input " + c.images + " --jsonl " + jsonl, 4) + " 2> " + c.dir.file("e1.txt")) ==
        2);
  CHECK(slurp(c.dir.file("e1.txt")).find("--jsonl '" + jsonl + "' holds results of another model or config") !=
        std::string::npos);
  CHECK(run_command(c.command("--resume --input " + c.images + " --out-dir " + dir, 4) + " 2> " + c.dir.file("e2.txt")) ==
        2);
  CHECK(slurp(c.dir.file("e2.txt")).find("--out-dir '" + dir + "' holds results of another model or config") !=
        std::string::npos);
  CHECK(slurp(jsonl) == lines);
  CHECK_FALSE(fs::exists(dir + "/b"));
  // The same settings resume: b is added, a kept.
  INFO(slurp(c.dir.file("e3.txt")));
  REQUIRE(run_command(c.command("--resume --input " + c.images + " --jsonl " + jsonl + " --out-dir " + dir) + " 2> " +
                      c.dir.file("e3.txt")) == 0);
  const std::string resumed = slurp(jsonl);
  CHECK(resumed.rfind(lines, 0) == 0);
  CHECK(std::count(resumed.begin(), resumed.end(), '\n') == 3);  // the run record and two images
  CHECK(slurp(dir + "/a/metadata.csv") == meta);
  CHECK(fs::exists(dir + "/b/metadata.csv"));
}

TEST_CASE("Colliding names and a grown input set: a resumed --out-dir refuses (exit 2), never mixes images",
          "[cli][safety][resume]") {
  SafetyCorpus c({});
  // Two different pictures with the same name in two folder inputs.
  c.add_image("a/x.png", make_image(64, 48, kBlack, {{4, 4, 30, 20, kRed}}));
  c.add_image("b/x.png", make_image(64, 48, kBlack, {{20, 28, 60, 44, kBlue}}));
  // The inputs come from a list file, which grows: the run's config (the list's path) is the same.
  const std::string dir = c.dir.file("d"), a = c.images + "/a", b = c.images + "/b", list = c.dir.file("list.txt");
  std::ofstream(list) << a << "/x.png\n" << b << "/x.png\n";
  const std::string args = "--input-list " + list + " --out-dir " + dir + " --output-mode coco_rle";
  REQUIRE(run_command(c.command(args)) == 0);
  auto recorded_path = [&](const std::string& file) {
    std::string first = slurp(file);
    first = first.substr(0, first.find('\n'));
    first.back() = '}';
    return json::parse(first)["sam2_amg"]["path"].get<std::string>();
  };
  CHECK(recorded_path(dir + "/x.png.json") == a + "/x.png");
  CHECK(recorded_path(dir + "/x.png~2.json") == b + "/x.png");
  const std::string before = slurp(dir + "/x.png.json");
  // A third image that sorts first: "x.png" would now be its name, but holds a's masks.
  c.add_image("0/x.png", make_image(64, 48, kBlack, {{10, 10, 50, 40, kGreen}}));
  std::ofstream(list, std::ios::app) << c.images << "/0/x.png\n";
  CHECK(run_command(c.command("--resume " + args) + " 2> " + c.dir.file("e.txt")) == 2);
  const std::string err = slurp(c.dir.file("e.txt"));
  INFO(err);
  CHECK(err.find("holds the masks of '" + a + "/x.png', not of '" + c.images + "/0/x.png'") != std::string::npos);
  CHECK(slurp(dir + "/x.png.json") == before);
  CHECK_FALSE(fs::exists(dir + "/x.png~3.json"));
  // --overwrite starts over: every name is right again.
  REQUIRE(run_command(c.command("--overwrite " + args)) == 0);
  CHECK(recorded_path(dir + "/x.png.json") == c.images + "/0/x.png");
  CHECK(recorded_path(dir + "/x.png~3.json") == b + "/x.png");
}

TEST_CASE("Shards sharing --out-dir name colliding stems as one run does", "[cli][safety][shards]") {
  // p<i>.png and p<i>.jpg share the stem p<i>: one run names them p<i>.png and p<i>.jpg. Their
  // names differ, so a pair can fall in two shards, which must still not both take "p<i>".
  SafetyCorpus c({});
  std::vector<InputFile> inputs;
  for (int i = 0; i < 8; ++i)
    for (const char* ext : {".png", ".jpg"}) {
      const std::string name = "p" + std::to_string(i) + ext;
      c.add_image(name, make_image(64, 48, kBlack, {{4 + 4 * i, 4, 30, 20, kRed}}));
      inputs.push_back({c.images + "/" + name, name, ""});
    }
  int split = 0;
  for (int i = 0; i < 8; ++i) split += shard_key(inputs[2 * i]) % 3 != shard_key(inputs[2 * i + 1]) % 3;
  REQUIRE(split > 0);
  const std::string dir = c.dir.file("d");
  for (int k = 0; k < 3; ++k)
    REQUIRE(run_command(c.command("--input " + c.images + " --out-dir " + dir + " --output-mode coco_rle --shard " +
                              std::to_string(k) + "/3")) == 0);
  // Sixteen outputs, each recording its own input.
  for (const InputFile& in : inputs) {
    const std::string file = dir + "/" + in.name + ".json";
    INFO(file);
    REQUIRE(fs::exists(file));
    std::string first = slurp(file);
    first = first.substr(0, first.find('\n'));
    first.back() = '}';
    CHECK(json::parse(first)["sam2_amg"]["path"] == in.path);
  }
}
