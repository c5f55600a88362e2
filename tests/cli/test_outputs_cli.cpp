// The real binary on the habits of data pipelines: NUL-separated lists, resuming finished
// outputs, unique names, outputs refused or created up front, closed pipes, the progress line,
// one identity for an input across runs, and every output mode read back by independent decoders.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/coco_decoders.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Small images with two objects each, in `dir/<folder>/<name>`.
void write_images(const std::string& folder, const std::vector<std::string>& names, int shift = 0) {
  fs::create_directories(folder);
  for (const std::string& name : names)
    write_image_rgb(folder + "/" + name,
                    make_image(64, 48, kBlack, {{4 + shift, 4, 30 + shift, 20, kRed}, {20, 28, 60, 44, kBlue}}));
}

std::string amg(const std::string& args, int points_per_side = 8) {
  return cli_binary() + " -q --model " + synthetic_model_path() + " --device " + test_device() +
         " --points-per-side " + std::to_string(points_per_side) + " " + args;
}

// Runs `script` with bash in `cwd`; returns its exit status.
int bash_in(const std::string& cwd, const std::string& script, const std::string& file) {
  std::ofstream(file) << "cd '" << cwd << "' || exit 99\n" << script << "\n";
  return run_command("bash " + file);
}

// Every byte outside printable ASCII, and '%', as %XX.
std::string escape_for_test(const std::string& bytes) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (c > 0x20 && c < 0x7F && c != '%') out += ch;
    else out += std::string{'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}

std::vector<json> image_lines(const std::string& jsonl) {
  std::vector<json> lines;
  std::istringstream in(slurp(jsonl));
  for (std::string s; std::getline(in, s);) {
    const json j = json::parse(s, nullptr, false);
    if (j.is_object() && j.value("type", "") == "image") lines.push_back(j);
  }
  return lines;
}

}  // namespace

TEST_CASE("A NUL-separated list on stdin gives every file, and no NUL reaches a recorded path", "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("in"), {"x.png", "y z.png", "w.png"});
  const int rc = bash_in(dir.path(),
                         "find in -name '*.png' -print0 | " + amg("--input - --jsonl j.jsonl") + " 2>err.txt",
                         dir.file("run.sh"));
  INFO(slurp(dir.file("err.txt")));
  REQUIRE(rc == 0);
  std::set<std::string> paths;
  for (const json& line : image_lines(dir.file("j.jsonl"))) {
    const std::string p = line["image"]["path"];
    CHECK(p.find('\0') == std::string::npos);
    paths.insert(p);
  }
  CHECK(paths == std::set<std::string>{"in/w.png", "in/x.png", "in/y z.png"});
}

TEST_CASE("Resume of a finished --out: other settings are refused by name, equal ones recompute nothing",
          "[cli][outputs][resume]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png", "b.png"});
  const std::string args = "--input " + dir.file("in") + " --out " + dir.file("m.json");
  REQUIRE(run_command(amg(args) + " 2>/dev/null") == 0);
  const std::string before = slurp(dir.file("m.json"));
  const auto mtime = fs::last_write_time(dir.file("m.json"));

  // Another points_per_side: exit 2, naming the setting; the file is left alone.
  CHECK(run_command(amg(args, 5) + " --resume 2>" + dir.file("err.txt")) == 2);
  const std::string err = slurp(dir.file("err.txt"));
  INFO(err);
  CHECK(err.find("points_per_side") != std::string::npos);
  CHECK(slurp(dir.file("m.json")) == before);

  // The same settings (and a run-only one, threads): nothing recomputed, the file untouched.
  REQUIRE(run_command(cli_binary() + " --model " + synthetic_model_path() + " --device " + test_device() +
                      " --points-per-side 8 --threads 1 --input " + dir.file("in") + " --out " + dir.file("m.json") +
                      " --resume 2>" + dir.file("err2.txt")) == 0);
  INFO(slurp(dir.file("err2.txt")));
  CHECK(slurp(dir.file("err2.txt")).find("(2 resumed)") != std::string::npos);
  CHECK(slurp(dir.file("m.json")) == before);
  CHECK(fs::last_write_time(dir.file("m.json")) == mtime);
}

TEST_CASE("Run-only settings (threads, an extra overlay folder) never block a resume", "[cli][outputs][resume]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png", "b.png"});
  const std::string base = amg("--input " + dir.file("in") + " --jsonl " + dir.file("j.jsonl") + " --out-dir " +
                               dir.file("od") + " --output-mode coco_rle");
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  const std::string jsonl = slurp(dir.file("j.jsonl"));
  CHECK(run_command(base + " --resume --threads 2 --overlay-dir " + dir.file("ov") + " 2>" + dir.file("err.txt")) ==
        0);
  INFO(slurp(dir.file("err.txt")));
  CHECK(slurp(dir.file("j.jsonl")) == jsonl);  // nothing appended twice
  CHECK(fs::exists(dir.file("ov/a.overlay.png")));
  CHECK(fs::exists(dir.file("ov/b.overlay.png")));
}

TEST_CASE("COCO file_names are unique: paths relative to the inputs' common folder", "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("data/d1"), {"same.png"});
  write_images(dir.file("data/d2"), {"same.png"}, 2);
  REQUIRE(run_command(amg("--input " + dir.file("data/d1") + " " + dir.file("data/d2") + " --out " +
                          dir.file("m.json") + " 2>/dev/null")) == 0);
  const json coco = json::parse(slurp(dir.file("m.json")));
  std::vector<std::string> names;
  for (const json& img : coco["images"]) names.push_back(img["file_name"]);
  CHECK(names == std::vector<std::string>{"d1/same.png", "d2/same.png"});
}

TEST_CASE("Outputs in folders that do not exist yet are created, and --dry-run predicts the run's exit code",
          "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png"});
  const std::string base = amg("--input " + dir.file("in") + " --out " + dir.file("new/sub/m.json") + " --jsonl " +
                               dir.file("other/j.jsonl"));
  CHECK(run_command(base + " --dry-run >/dev/null 2>&1") == 0);
  CHECK_FALSE(fs::exists(dir.file("new")));
  CHECK(run_command(base + " 2>/dev/null") == 0);
  CHECK(json::parse(slurp(dir.file("new/sub/m.json")))["images"].size() == 1);
  CHECK(image_lines(dir.file("other/j.jsonl")).size() == 1);

  // One output that cannot be made refuses the run before any other is created, in both.
  std::ofstream(dir.file("plain")) << "x";
  const std::string bad = amg("--input " + dir.file("in") + " --out-dir " + dir.file("od") + " --out " +
                              dir.file("plain/m.json"));
  CHECK(run_command(bad + " --dry-run >/dev/null 2>&1") == 5);
  CHECK(run_command(bad + " 2>/dev/null") == 5);
  CHECK_FALSE(fs::exists(dir.file("od")));
}

TEST_CASE("A run refused before its first image leaves nothing behind", "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("d1"), {"x.png"});
  write_images(dir.file("d2"), {"x.png"});
  // Two inputs would share the label x.txt: refused (exit 2), by the dry run alike.
  const std::string base = amg("--input " + dir.file("d1") + " " + dir.file("d2") + " --jsonl " +
                               dir.file("out.jsonl") + " --out " + dir.file("m.json") + " --yolo " +
                               dir.file("labels"));
  CHECK(run_command(base + " --dry-run >/dev/null 2>&1") == 2);
  CHECK(run_command(base + " 2>/dev/null") == 2);
  CHECK_FALSE(fs::exists(dir.file("out.jsonl")));
  CHECK_FALSE(fs::exists(dir.file("m.json")));
  CHECK_FALSE(fs::exists(dir.file("m.json.partial.jsonl")));
  CHECK_FALSE(fs::exists(dir.file("labels")));
  // So a corrected rerun is not refused for outputs that exist.
  CHECK(run_command(amg("--input " + dir.file("d1") + " --jsonl " + dir.file("out.jsonl") + " 2>/dev/null")) == 0);
}

TEST_CASE("A closed downstream pipe ends the run quietly with status 141", "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"});
  // head reads the first line and exits while images are still being segmented: the next write
  // to the pipe fails (EPIPE, SIGPIPE being ignored so that outputs stay valid).
  bash_in(dir.path(), amg("--input in --jsonl -") + " 2>err.txt | head -n 1 > first.txt; echo ${PIPESTATUS[0]} > rc.txt",
          dir.file("run.sh"));
  CHECK(slurp(dir.file("first.txt")).rfind("{\"sam2_amg\":", 0) == 0);  // the run record
  const std::string err = slurp(dir.file("err.txt"));
  INFO(err);
  CHECK(slurp(dir.file("rc.txt")) == "141\n");
  CHECK(err.find("[error]") == std::string::npos);
}

TEST_CASE("The progress bar fits the terminal width and shows the elapsed time", "[cli][outputs]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png", "b.png"});
  for (int columns : {40, 60, 80, 120}) {
    INFO(columns);
    REQUIRE(run_command("COLUMNS=" + std::to_string(columns) + " " + cli_binary() + " --model " +
                        synthetic_model_path() + " --points-per-side 8 --progress bar --input " + dir.file("in") +
                        " --jsonl " + dir.file("j" + std::to_string(columns) + ".jsonl") + " 2>" +
                        dir.file("err.txt")) == 0);
    const std::string err = slurp(dir.file("err.txt"));
    bool elapsed = false;
    size_t bars = 0;
    for (size_t at = err.find('\r'); at != std::string::npos; at = err.find('\r', at + 1)) {
      std::string seg = err.substr(at + 1, err.find_first_of("\r\n", at + 1) - at - 1);
      const size_t esc = seg.find("\x1b[K");
      if (esc != std::string::npos) seg.erase(esc);
      ++bars;
      CHECK(static_cast<int>(seg.size()) < columns);
      elapsed = elapsed || seg.find("elapsed") != std::string::npos;
    }
    CHECK(bars > 0);
    if (columns >= 80) CHECK(elapsed);
  }
}

TEST_CASE("Resume knows an input by its canonical path: find ds, then find ./ds, adds nothing",
          "[cli][outputs][resume]") {
  TempDir dir;
  write_images(dir.file("ds"), {"a.png", "b.png", "c.png"});
  const std::string outs = " --jsonl j.jsonl --out-dir od --output-mode coco_rle";
  REQUIRE(bash_in(dir.path(), "find ds -name '*.png' | " + amg("--input -" + outs) + " 2>err.txt",
                  dir.file("a.sh")) == 0);
  const int rc = bash_in(dir.path(), "find ./ds -name '*.png' | " + amg("--input -" + outs + " --resume") + " 2>err.txt",
                         dir.file("b.sh"));
  INFO(slurp(dir.file("err.txt")));
  CHECK(rc == 0);
  CHECK(image_lines(dir.file("j.jsonl")).size() == 3);
}

TEST_CASE("A file name that is not UTF-8 is recorded exactly and resumes", "[cli][outputs][resume]") {
  TempDir dir;
  write_images(dir.file("in"), {"a\xff.png", "b.png"});
  const std::string base =
      amg("--input " + dir.file("in") + " --jsonl " + dir.file("j.jsonl") + " --out-dir " + dir.file("od"));
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  const std::vector<json> lines = image_lines(dir.file("j.jsonl"));
  REQUIRE(lines.size() == 2);
  // The text form cannot hold the byte; the escaped bytes give the name back exactly.
  CHECK(lines[0]["input"]["path_bytes"] == escape_for_test(dir.file("in") + "/a\xff.png"));
  CHECK(run_command(base + " --resume 2>" + dir.file("err.txt")) == 0);
  INFO(slurp(dir.file("err.txt")));
  CHECK(image_lines(dir.file("j.jsonl")).size() == 2);
}

TEST_CASE("An input rewritten since the earlier run is recomputed on resume, not kept", "[cli][outputs][resume]") {
  TempDir dir;
  write_images(dir.file("in"), {"a.png", "b.png"});
  const std::string base = amg("--input " + dir.file("in") + " --jsonl " + dir.file("j.jsonl"));
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  // b.png becomes a larger picture (size and mtime change).
  write_image_rgb(dir.file("in/b.png"), make_image(80, 60, kBlack, {{10, 10, 50, 40, kGreen}}));
  fs::last_write_time(dir.file("in/b.png"), fs::last_write_time(dir.file("in/b.png")) + std::chrono::seconds(5));
  REQUIRE(run_command(base + " --resume 2>/dev/null") == 0);
  const std::vector<json> lines = image_lines(dir.file("j.jsonl"));
  REQUIRE(lines.size() == 2);  // once each: the stale line is gone
  for (const json& line : lines)
    if (line["image"]["path"] == dir.file("in/b.png")) CHECK(line["image"]["width"] == 80);
}

TEST_CASE("Every output mode decodes back to the masks with independent decoders", "[cli][outputs][readers]") {
  TempDir dir;
  // A ring (a hole), an L shape, a one-pixel line and a rectangle.
  fs::create_directories(dir.file("in"));
  write_image_rgb(dir.file("in/s.png"), make_image(96, 72, kBlack,
                                                   {{4, 4, 44, 40, kRed}, {14, 14, 34, 30, kBlack},
                                                    {50, 4, 90, 20, kGreen}, {50, 20, 62, 60, kGreen},
                                                    {70, 30, 71, 68, kBlue}, {76, 40, 92, 66, kYellow}}));
  REQUIRE(run_command(amg("--input " + dir.file("in") + " --out-dir " + dir.file("png") + " 2>/dev/null")) == 0);
  // The truth: amg.py's PNG masks, read by OpenCV.
  std::vector<std::vector<std::uint8_t>> truth;
  for (int i = 0; fs::exists(dir.file("png/s/" + std::to_string(i) + ".png")); ++i) {
    const cv::Mat m = cv::imread(dir.file("png/s/" + std::to_string(i) + ".png"), cv::IMREAD_GRAYSCALE);
    std::vector<std::uint8_t> v(m.total());
    for (size_t k = 0; k < v.size(); ++k) v[k] = m.data[k] ? 1 : 0;
    truth.push_back(v);
  }
  REQUIRE(truth.size() >= 4);
  for (const std::string mode : {"", "--output-mode uncompressed_rle", "--polygons"}) {
    INFO(mode);
    const std::string out = dir.file("m" + std::to_string(mode.size()) + ".json");
    REQUIRE(run_command(amg("--input " + dir.file("in") + " --out " + out + " " + mode + " 2>/dev/null")) == 0);
    const json anns = json::parse(slurp(out))["annotations"];
    REQUIRE(anns.size() == truth.size());
    // The same run's JSON lines and SA-1B files carry the same segmentations.
    const std::string jsonl = out + "l";
    REQUIRE(run_command(amg("--input " + dir.file("in") + " --jsonl " + jsonl + " " + mode + " 2>/dev/null")) == 0);
    const std::vector<json> lines = image_lines(jsonl);
    REQUIRE(lines.size() == 1);
    REQUIRE(lines[0]["annotations"].size() == anns.size());
    for (size_t i = 0; i < anns.size(); ++i) CHECK(lines[0]["annotations"][i]["segmentation"] == anns[i]["segmentation"]);
    for (size_t i = 0; i < anns.size(); ++i) {
      const json& seg = anns[i]["segmentation"];
      std::vector<std::uint8_t> got;
      if (seg.is_array()) {
        std::vector<std::vector<double>> polys = seg.get<std::vector<std::vector<double>>>();
        got = rasterize_polygons(polys, 72, 96);
        CHECK(anns[i]["iscrowd"] == 0);
      } else if (seg["counts"].is_string()) {
        got = decode_runs(counts_from_string(seg["counts"]), seg["size"][0], seg["size"][1]);
        CHECK(anns[i]["iscrowd"] == 0);
      } else {
        got = decode_runs(seg["counts"].get<std::vector<std::uint32_t>>(), seg["size"][0], seg["size"][1]);
        CHECK(anns[i]["iscrowd"] == 1);  // supervision reads list counts only so
      }
      CHECK(got == truth[i]);
    }
  }
}
