// Outputs a run did not write are never replaced unasked (per-image targets in --out-dir, YOLO
// labels), a finished COCO file records each input's identity, and --dry-run gives the exit code
// of a resume the run would refuse.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

void write_text(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

}  // namespace

TEST_CASE("A file in --out-dir that no run wrote is refused up front, named, and kept", "[cli][outputs][gaps]") {
  CliFixture f;
  f.flags = "-q --progress none";
  f.add_image("a.png");
  f.add_image("b.png");
  const std::string od = f.file("od");
  // JSON per image: a foreign od/a.json (no run.json beside it).
  write_text(od + "/a.json", "mine\n");
  CliResult r = f.run("--output-mode coco_rle --input " + f.images + " --out-dir " + od);
  CHECK(r.rc == 2);
  CHECK(r.err.find("a.json") != std::string::npos);
  CHECK(slurp(od + "/a.json") == "mine\n");
  CHECK_FALSE(fs::exists(od + "/b.json"));  // refused before any work
  CHECK_FALSE(fs::exists(od + "/run.json"));
  // --dry-run says the same.
  CHECK(f.run("--dry-run --output-mode coco_rle --input " + f.images + " --out-dir " + od).rc == 2);
  // --overwrite says to replace it.
  REQUIRE(f.run("--overwrite --output-mode coco_rle --input " + f.images + " --out-dir " + od).rc == 0);
  CHECK(slurp(od + "/a.json").rfind("{\"sam2_amg\"", 0) == 0);

  // Mask folders: a foreign od2/a/ holding only a 0.png is not replaced either.
  const std::string od2 = f.file("od2");
  write_text(od2 + "/a/0.png", "not a mask");
  r = f.run("--input " + f.images + " --out-dir " + od2);
  CHECK(r.rc == 2);
  CHECK(r.err.find("od2/a'") != std::string::npos);
  CHECK(slurp(od2 + "/a/0.png") == "not a mask");
  CHECK_FALSE(fs::exists(od2 + "/b"));
}

TEST_CASE("Ground-truth YOLO labels are never replaced without --overwrite, resuming or not", "[cli][outputs][gaps]") {
  CliFixture f;
  f.flags = "-q --progress none";
  f.add_image("a.png");
  f.add_image("b.png");
  const std::string labels = f.file("labels");
  const std::string truth = "0 0.1 0.1 0.5 0.1 0.5 0.5\n";
  write_text(labels + "/a.txt", truth);
  CliResult r = f.run("--input " + f.images + " --yolo " + labels);
  CHECK(r.rc == 2);
  CHECK(r.err.find("a.txt") != std::string::npos);
  CHECK(slurp(labels + "/a.txt") == truth);
  CHECK_FALSE(fs::exists(labels + "/b.txt"));
  // --resume with no manifest of an earlier run: still not this run's label.
  r = f.run("--resume --input " + f.images + " --yolo " + labels);
  CHECK(r.rc == 2);
  CHECK(r.err.find("a.txt") != std::string::npos);
  CHECK(slurp(labels + "/a.txt") == truth);
  CHECK_FALSE(fs::exists(labels + "/b.txt"));

  // A real run's labels resume; a label that appeared since for a new input is refused.
  const std::string mine = f.file("mine");
  fs::remove(f.images + "/b.png");
  REQUIRE(f.run("--input " + f.images + " --yolo " + mine).rc == 0);
  const std::string a_label = slurp(mine + "/a.txt");
  f.add_image("b.png");
  write_text(mine + "/b.txt", truth);
  r = f.run("--resume --input " + f.images + " --yolo " + mine);
  CHECK(r.rc == 2);
  CHECK(r.err.find("b.txt") != std::string::npos);
  CHECK(slurp(mine + "/b.txt") == truth);
  fs::remove(mine + "/b.txt");
  CHECK(f.run("--resume --input " + f.images + " --yolo " + mine).rc == 0);
  CHECK(slurp(mine + "/a.txt") == a_label);
  CHECK(fs::exists(mine + "/b.txt"));

  // --overwrite replaces the ground truth: asked for.
  CHECK(f.run("--overwrite --input " + f.images + " --yolo " + labels).rc == 0);
  CHECK(slurp(labels + "/a.txt") != truth);
}

TEST_CASE("A finished COCO file records each input's identity: a name that is not UTF-8 resumes, a rewritten input is "
          "recomputed",
          "[cli][outputs][gaps][resume]") {
  CliFixture f;
  f.flags = "-q --progress none";
  f.add_image("a\xff.png");
  f.add_image("b.png");
  const std::string out = f.file("m.json");
  REQUIRE(f.run("--input " + f.images + " --out " + out).rc == 0);
  const std::string first = slurp(out);
  const json coco = json::parse(first, nullptr, false);
  REQUIRE(coco.is_object());
  REQUIRE(coco["images"].size() == 2);
  for (const json& image : coco["images"]) {
    REQUIRE(image.contains("input"));
    CHECK(image["input"].contains("key"));
    CHECK(image["input"].contains("size"));
  }
  CHECK(coco["images"][0]["input"]["path_bytes"].get<std::string>().find("a%FF.png") != std::string::npos);
  // Nothing new: the finished file stays as it is, byte for byte (the name is not recomputed).
  CliResult r = f.run("--resume --input " + f.images + " --out " + out);
  CHECK(r.rc == 0);
  CHECK(slurp(out) == first);

  // b.png rewritten (another size): its masks are recomputed, its old entry dropped.
  f.add_image("b.png", make_image(40, 30, kBlack, {{2, 2, 20, 20, kGreen}}));
  REQUIRE(f.run("--resume --input " + f.images + " --out " + out).rc == 0);
  const json after = json::parse(slurp(out));
  REQUIRE(after["images"].size() == 2);
  int b = 0;
  for (const json& image : after["images"])
    if (image["path"].get<std::string>().find("b.png") != std::string::npos) {
      ++b;
      CHECK(image["width"] == 40);
      CHECK(image["height"] == 30);
    }
  CHECK(b == 1);
}

TEST_CASE("Dry run with --resume against an output of other settings exits 2, as the run does", "[cli][dry-run][gaps]") {
  CliFixture f;
  f.flags = "-q --progress none";
  f.add_image("a.png");
  for (const std::string& flag : {std::string("--out ") + f.file("m.json"), std::string("--jsonl ") + f.file("j.jsonl"),
                                  std::string("--out-dir ") + f.file("od"), std::string("--yolo ") + f.file("labels")}) {
    INFO(flag);
    REQUIRE(f.run("--input " + f.images + " " + flag).rc == 0);
    // The same settings: both resume.
    CHECK(f.run("--dry-run --resume --input " + f.images + " " + flag).rc == 0);
    // Other settings: the run refuses, and so does the dry run, naming the setting; nothing changes.
    const CliResult dry = f.capture(f.command("--dry-run --resume --input " + f.images + " " + flag, 5));
    CHECK(dry.rc == 2);
    CHECK(dry.err.find("points_per_side") != std::string::npos);
    CHECK(f.capture(f.command("--resume --input " + f.images + " " + flag, 5)).rc == 2);
  }
}

TEST_CASE("Resuming with --stats: it does not change the masks, so it never blocks a resume", "[cli][resume][gaps]") {
  CliFixture f;
  f.flags = "-q --progress none";
  f.add_image("a.png");
  const std::string out = f.file("m.json");
  REQUIRE(f.run("--input " + f.images + " --out " + out).rc == 0);
  const std::string first = slurp(out);
  const CliResult r = f.run("--stats --resume --input " + f.images + " --out " + out);
  CHECK(r.rc == 0);
  CHECK(r.err.find("stats") == std::string::npos);
  CHECK(slurp(out) == first);  // nothing recomputed
}

namespace {

// Runs `args` over 40 images and moves `folder` away once `first` is in it: the run must stop with
// exit 5 naming the folder, never recreate it.
void check_folder_moved_mid_run(const std::string& args, const std::string& folder, const std::string& first) {
  CliFixture f;
  f.flags = "-q --progress none";
  f.points_per_side = 16;
  for (int i = 0; i < 40; ++i)
    f.add_image("im" + std::to_string(100 + i) + ".png",
                make_image(96, 96, kBlack, {{2 + i % 9, 4, 48, 48, kRed}, {60, 60, 90, 90, kBlue}}));
  const std::string err = f.file("err.txt");
  const std::string script = f.command("--input " + f.images + " " + args) + " 2> " + err +
                             " & pid=$!; t0=$SECONDS; until [ -e " + first + " ] || [ $((SECONDS - t0)) -gt 120 ]; "
                             "do sleep 0.02; done; mv " + folder + " " + folder + ".moved; wait $pid; exit $?";
  std::ofstream(f.file("mv.sh")) << script << "\n";
  CHECK(run_command("bash " + f.file("mv.sh")) == 5);
  CHECK(slurp(err).find("was removed or replaced while this run wrote into it") != std::string::npos);
  CHECK_FALSE(fs::exists(folder));  // not recreated
}

}  // namespace

TEST_CASE("An --overlay-dir removed mid-run is exit 5, never recreated", "[cli][outputs][gaps]") {
  TempDir d;
  const std::string ov = d.file("ov");
  check_folder_moved_mid_run("--out " + d.file("m.json") + " --overlay-dir " + ov, ov, ov + "/im100.overlay.png");
}

TEST_CASE("A --yolo folder removed mid-run is exit 5, never recreated", "[cli][outputs][gaps]") {
  TempDir d;
  const std::string labels = d.file("labels");
  check_folder_moved_mid_run("--yolo " + labels, labels, labels + "/im100.txt");
}
