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

#include "support/catch.h"
#include "support/coco_decoders.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The CLI fixture, quiet.
struct Quiet : CliFixture {
  Quiet() { flags = "-q"; }
};

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
  Quiet f;
  f.add_images({"x.png", "y z.png", "w.png"});
  const int rc = f.bash("find in -name '*.png' -print0 | " + f.command("--input - --jsonl j.jsonl") + " 2>err.txt");
  INFO(slurp(f.file("err.txt")));
  REQUIRE(rc == 0);
  std::set<std::string> paths;
  for (const json& line : image_lines(f.file("j.jsonl"))) {
    const std::string p = line["image"]["path"];
    CHECK(p.find('\0') == std::string::npos);
    paths.insert(p);
  }
  CHECK(paths == std::set<std::string>{"in/w.png", "in/x.png", "in/y z.png"});
}

TEST_CASE("Resume of a finished --out: other settings are refused by name, equal ones recompute nothing",
          "[cli][outputs][resume]") {
  Quiet f;
  f.add_images({"a.png", "b.png"});
  const std::string args = "--input " + f.images + " --out " + f.file("m.json");
  REQUIRE(run_command(f.command(args) + " 2>/dev/null") == 0);
  const std::string before = slurp(f.file("m.json"));
  const auto mtime = fs::last_write_time(f.file("m.json"));

  // Another points_per_side: exit 2, naming the setting; the file is left alone.
  CHECK(run_command(f.command(args, 5) + " --resume 2>" + f.file("err.txt")) == 2);
  const std::string err = slurp(f.file("err.txt"));
  INFO(err);
  CHECK(err.find("points_per_side") != std::string::npos);
  CHECK(slurp(f.file("m.json")) == before);

  // The same settings (and a run-only one, threads): nothing recomputed, the file untouched.
  f.flags.clear();  // not quiet: the summary line
  REQUIRE(run_command(f.command("--threads 1 --input " + f.images + " --out " + f.file("m.json") + " --resume 2>" +
                                f.file("err2.txt"))) == 0);
  INFO(slurp(f.file("err2.txt")));
  CHECK(slurp(f.file("err2.txt")).find("(2 resumed)") != std::string::npos);
  CHECK(slurp(f.file("m.json")) == before);
  CHECK(fs::last_write_time(f.file("m.json")) == mtime);
}

TEST_CASE("Run-only settings (threads, an extra overlay folder) never block a resume", "[cli][outputs][resume]") {
  Quiet f;
  f.add_images({"a.png", "b.png"});
  const std::string base = f.command("--input " + f.images + " --jsonl " + f.file("j.jsonl") + " --out-dir " +
                                     f.file("od") + " --output-mode coco_rle");
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  const std::string jsonl = slurp(f.file("j.jsonl"));
  CHECK(run_command(base + " --resume --threads 2 --overlay-dir " + f.file("ov") + " 2>" + f.file("err.txt")) == 0);
  INFO(slurp(f.file("err.txt")));
  CHECK(slurp(f.file("j.jsonl")) == jsonl);  // nothing appended twice
  CHECK(fs::exists(f.file("ov/a.overlay.png")));
  CHECK(fs::exists(f.file("ov/b.overlay.png")));
}

TEST_CASE("COCO file_names are unique: paths relative to the inputs' common folder", "[cli][outputs]") {
  Quiet f;
  f.add_image("d1/same.png");
  f.add_image("d2/same.png", two_object_image(2));
  REQUIRE(run_command(f.command("--input " + f.images + "/d1 " + f.images + "/d2 --out " + f.file("m.json") +
                                " 2>/dev/null")) == 0);
  const json coco = json::parse(slurp(f.file("m.json")));
  std::vector<std::string> names;
  for (const json& img : coco["images"]) names.push_back(img["file_name"]);
  CHECK(names == std::vector<std::string>{"d1/same.png", "d2/same.png"});
}

TEST_CASE("Outputs in folders that do not exist yet are created, and --dry-run predicts the run's exit code",
          "[cli][outputs]") {
  Quiet f;
  f.add_images({"a.png"});
  const std::string base =
      f.command("--input " + f.images + " --out " + f.file("new/sub/m.json") + " --jsonl " + f.file("other/j.jsonl"));
  CHECK(run_command(base + " --dry-run >/dev/null 2>&1") == 0);
  CHECK_FALSE(fs::exists(f.file("new")));
  CHECK(run_command(base + " 2>/dev/null") == 0);
  CHECK(json::parse(slurp(f.file("new/sub/m.json")))["images"].size() == 1);
  CHECK(image_lines(f.file("other/j.jsonl")).size() == 1);

  // One output that cannot be made refuses the run before any other is created, in both.
  std::ofstream(f.file("plain")) << "x";
  const std::string bad =
      f.command("--input " + f.images + " --out-dir " + f.file("od") + " --out " + f.file("plain/m.json"));
  CHECK(run_command(bad + " --dry-run >/dev/null 2>&1") == 5);
  CHECK(run_command(bad + " 2>/dev/null") == 5);
  CHECK_FALSE(fs::exists(f.file("od")));
}

TEST_CASE("A run refused before its first image leaves nothing behind", "[cli][outputs]") {
  Quiet f;
  f.add_images({"d1/x.png", "d2/x.png"});
  // Two inputs would share the label x.txt: refused (exit 2), by the dry run alike.
  const std::string base = f.command("--input " + f.images + "/d1 " + f.images + "/d2 --jsonl " + f.file("out.jsonl") +
                                     " --out " + f.file("m.json") + " --yolo " + f.file("labels"));
  CHECK(run_command(base + " --dry-run >/dev/null 2>&1") == 2);
  CHECK(run_command(base + " 2>/dev/null") == 2);
  CHECK_FALSE(fs::exists(f.file("out.jsonl")));
  CHECK_FALSE(fs::exists(f.file("m.json")));
  CHECK_FALSE(fs::exists(f.file("m.json.partial.jsonl")));
  CHECK_FALSE(fs::exists(f.file("labels")));
  // So a corrected rerun is not refused for outputs that exist.
  CHECK(run_command(f.command("--input " + f.images + "/d1 --jsonl " + f.file("out.jsonl") + " 2>/dev/null")) == 0);
}

TEST_CASE("A closed downstream pipe ends the run quietly with status 141", "[cli][outputs]") {
  Quiet f;
  f.add_images({"a.png", "b.png", "c.png", "d.png", "e.png", "f.png"});
  // head reads the first line and exits while images are still being segmented: the next write
  // to the pipe fails (EPIPE, SIGPIPE being ignored so that outputs stay valid).
  f.bash(f.command("--input in --jsonl -") + " 2>err.txt | head -n 1 > first.txt; echo ${PIPESTATUS[0]} > rc.txt");
  CHECK(slurp(f.file("first.txt")).rfind("{\"sam2_amg\":", 0) == 0);  // the run record
  const std::string err = slurp(f.file("err.txt"));
  INFO(err);
  CHECK(slurp(f.file("rc.txt")) == "141\n");
  CHECK(err.find("[error]") == std::string::npos);
}

TEST_CASE("The progress bar fits the terminal width and shows the elapsed time", "[cli][outputs]") {
  CliFixture f;  // not quiet: the bar
  f.add_images({"a.png", "b.png"});
  for (int columns : {40, 60, 80, 120}) {
    INFO(columns);
    REQUIRE(run_command("COLUMNS=" + std::to_string(columns) + " " +
                        f.command("--progress bar --input " + f.images + " --jsonl " +
                                  f.file("j" + std::to_string(columns) + ".jsonl")) +
                        " 2>" + f.file("err.txt")) == 0);
    const std::string err = slurp(f.file("err.txt"));
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
  Quiet f;
  f.add_images({f.file("ds/a.png"), f.file("ds/b.png"), f.file("ds/c.png")});
  const std::string outs = " --jsonl j.jsonl --out-dir od --output-mode coco_rle";
  REQUIRE(f.bash("find ds -name '*.png' | " + f.command("--input -" + outs) + " 2>err.txt", "a.sh") == 0);
  const int rc =
      f.bash("find ./ds -name '*.png' | " + f.command("--input -" + outs + " --resume") + " 2>err.txt", "b.sh");
  INFO(slurp(f.file("err.txt")));
  CHECK(rc == 0);
  CHECK(image_lines(f.file("j.jsonl")).size() == 3);
}

TEST_CASE("A file name that is not UTF-8 is recorded exactly and resumes", "[cli][outputs][resume]") {
  Quiet f;
  f.add_images({"a\xff.png", "b.png"});
  const std::string base =
      f.command("--input " + f.images + " --jsonl " + f.file("j.jsonl") + " --out-dir " + f.file("od"));
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  const std::vector<json> lines = image_lines(f.file("j.jsonl"));
  REQUIRE(lines.size() == 2);
  // The text form cannot hold the byte; the escaped bytes give the name back exactly.
  CHECK(lines[0]["input"]["path_bytes"] == escape_for_test(f.images + "/a\xff.png"));
  CHECK(run_command(base + " --resume 2>" + f.file("err.txt")) == 0);
  INFO(slurp(f.file("err.txt")));
  CHECK(image_lines(f.file("j.jsonl")).size() == 2);
}

TEST_CASE("An input rewritten since the earlier run is recomputed on resume, not kept", "[cli][outputs][resume]") {
  Quiet f;
  f.add_images({"a.png", "b.png"});
  const std::string base = f.command("--input " + f.images + " --jsonl " + f.file("j.jsonl"));
  REQUIRE(run_command(base + " 2>/dev/null") == 0);
  // b.png becomes a larger picture (size and mtime change).
  f.add_image("b.png", make_image(80, 60, kBlack, {{10, 10, 50, 40, kGreen}}));
  fs::last_write_time(f.file("in/b.png"), fs::last_write_time(f.file("in/b.png")) + std::chrono::seconds(5));
  REQUIRE(run_command(base + " --resume 2>/dev/null") == 0);
  const std::vector<json> lines = image_lines(f.file("j.jsonl"));
  REQUIRE(lines.size() == 2);  // once each: the stale line is gone
  for (const json& line : lines)
    if (line["image"]["path"] == f.file("in/b.png")) CHECK(line["image"]["width"] == 80);
}

TEST_CASE("Every output mode decodes back to the masks with independent decoders", "[cli][outputs][readers]") {
  Quiet f;
  // A ring (a hole), an L shape, a one-pixel line and a rectangle.
  f.add_image("s.png", make_image(96, 72, kBlack,
                                  {{4, 4, 44, 40, kRed},
                                   {14, 14, 34, 30, kBlack},
                                   {50, 4, 90, 20, kGreen},
                                   {50, 20, 62, 60, kGreen},
                                   {70, 30, 71, 68, kBlue},
                                   {76, 40, 92, 66, kYellow}}));
  REQUIRE(run_command(f.command("--input " + f.images + " --out-dir " + f.file("png") + " 2>/dev/null")) == 0);
  // The truth: amg.py's PNG masks, read by OpenCV.
  std::vector<std::vector<std::uint8_t>> truth;
  for (int i = 0; fs::exists(f.file("png/s/" + std::to_string(i) + ".png")); ++i) {
    const cv::Mat m = cv::imread(f.file("png/s/" + std::to_string(i) + ".png"), cv::IMREAD_GRAYSCALE);
    std::vector<std::uint8_t> v(m.total());
    for (size_t k = 0; k < v.size(); ++k) v[k] = m.data[k] ? 1 : 0;
    truth.push_back(v);
  }
  REQUIRE(truth.size() >= 4);
  for (const std::string mode : {"", "--output-mode uncompressed_rle", "--polygons"}) {
    INFO(mode);
    const std::string out = f.file("m" + std::to_string(mode.size()) + ".json");
    REQUIRE(run_command(f.command("--input " + f.images + " --out " + out + " " + mode + " 2>/dev/null")) == 0);
    const json anns = json::parse(slurp(out))["annotations"];
    REQUIRE(anns.size() == truth.size());
    // The same run's JSON lines and SA-1B files carry the same segmentations.
    const std::string jsonl = out + "l";
    REQUIRE(run_command(f.command("--input " + f.images + " --jsonl " + jsonl + " " + mode + " 2>/dev/null")) == 0);
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
