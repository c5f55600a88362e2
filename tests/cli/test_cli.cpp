// Runs the real sam2-amg binary (path from SAM2AMG_BIN, set by CTest).
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "amg/amg_config.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// A folder of small images (the CLI fixture's model and command lines), shared by the tests below.
struct Corpus : CliFixture {
  explicit Corpus(int n_images) {
    for (int i = 0; i < n_images; ++i) {
      const int s = 8 * (i % 4);
      char name[32];
      std::snprintf(name, sizeof name, "img%02d.png", i);
      add_image(name, make_image(64, 48, kBlack, {{4 + s, 4, 30 + s, 20, kRed}, {20, 28, 60, 44, kBlue}}));
    }
  }
};

}  // namespace

TEST_CASE("The help text lists every AMG flag with its reference default", "[cli]") {
  CliFixture f;
  const CliResult r = f.run_binary("--help 2>&1");
  REQUIRE(r.rc == 0);
  const std::string& help = r.out;
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--points-per-side", "32"},        {"--points-per-batch", "64"},
      {"--pred-iou-thresh", "0.8"},       {"--stability-score-thresh", "0.95"},
      {"--stability-score-offset", "1"},  {"--mask-threshold", "0"},
      {"--box-nms-thresh", "0.7"},        {"--crop-n-layers", "0"},
      {"--crop-nms-thresh", "0.7"},       {"--crop-overlap-ratio", "0.341333"},
      {"--crop-n-points-downscale-factor", "1"}, {"--point-grids", "none"},
      {"--min-mask-region-area", "0"},    {"--output-mode", "binary_mask"},
      {"--use-m2m", "false"},             {"--multimask-output", "true"}};
  for (const auto& [flag, def] : flags) {
    INFO(flag);
    const size_t at = help.find(flag);
    REQUIRE(at != std::string::npos);
    // The flag's entry: its line and the description line under it.
    const size_t end = help.find('\n', help.find('\n', at) + 1);
    const std::string entry = help.substr(at, end - at);
    CHECK(entry.find(def) != std::string::npos);
  }
}

TEST_CASE("Config file, flags and --print-config", "[cli][config]") {
  CliFixture f;
  const TempDir& dir = f.dir;
  std::ofstream(dir.file("run.yaml")) << "pred_iou_thresh: 0.5\npoints_per_side: 16\nuse_m2m: true\n";
  const std::string base = "--config " + dir.file("run.yaml") + " --print-config";
  // Absent flags never override the file; given ones do.
  const CliResult printed = f.run_binary(base + " --points-per-side 8 --no-multimask-output");
  REQUIRE(printed.rc == 0);
  const std::string& eff = printed.out;
  std::ofstream(dir.file("eff.yaml")) << eff;
  CHECK(eff.find("\npred_iou_thresh: 0.5\n") != std::string::npos);
  CHECK(eff.find("\npoints_per_side: 8\n") != std::string::npos);
  CHECK(eff.find("\nuse_m2m: true\n") != std::string::npos);
  CHECK(eff.find("\nmultimask_output: false\n") != std::string::npos);
  // The printed config reproduces itself.
  const CliResult again = f.run_binary("--config " + dir.file("eff.yaml") + " --print-config");
  REQUIRE(again.rc == 0);
  CHECK(again.out == eff);
  // A typo in the file: exit 2, with the line and the closest key.
  std::ofstream(dir.file("bad.yaml")) << "pred_iou_thresh: 0.5\nstability_score_tresh: 0.9\n";
  const CliResult typo = f.run_binary("--config " + dir.file("bad.yaml") + " --print-config");
  CHECK(typo.rc == 2);
  CHECK(typo.err.find("bad.yaml:2: unknown key 'stability_score_tresh'; did you mean "
                      "'stability_score_thresh'?") != std::string::npos);
  // SAM 1 habits: a float --crop-overlap-ratio and --output for the folder.
  const CliResult sam1 = f.run_binary("--crop-overlap-ratio 0.25 --output masks_dir --print-config");
  REQUIRE(sam1.rc == 0);
  CHECK(sam1.out.find("\nout_dir: \"masks_dir\"\n") != std::string::npos);
  CHECK(sam1.out.find("\ncrop_overlap_ratio: 0.25\n") != std::string::npos);
}

TEST_CASE("A folder with broken files: each reported, nothing else lost", "[cli][e2e]") {
  Corpus c(3);
  std::ofstream(c.images + "/empty.png").flush();
  std::ofstream(c.images + "/text.jpg") << "not a jpeg";
  const std::string good = slurp(c.images + "/img00.png");
  std::ofstream(c.images + "/cut.png", std::ios::binary) << good.substr(0, good.size() / 2);

  const std::string out = c.dir.file("masks.json");
  const int rc = run_command(c.command("--input " + c.images + " --out " + out + " 2> " + c.dir.file("log.txt")));
  CHECK(rc == 4);  // some inputs bad: do not retry
  const std::string log = slurp(c.dir.file("log.txt"));
  CHECK(log.find("empty.png': empty file") != std::string::npos);
  CHECK(log.find("text.jpg': truncated JPEG") == std::string::npos);  // not a JPEG at all
  CHECK(log.find("text.jpg': not a readable image") != std::string::npos);
  CHECK(log.find("cut.png': truncated PNG") != std::string::npos);

  const json j = json::parse(slurp(out));
  REQUIRE(j["images"].size() == 3);
  CHECK(j["images"][0]["file_name"] == "img00.png");  // sorted order
  const json unreadable = j["info"]["sam2_amg"]["run"]["unreadable"];  // and the file says which were skipped
  REQUIRE(unreadable.size() == 3);
  CHECK(unreadable[0]["path"] == c.images + "/cut.png");
  CHECK(unreadable[0]["reason"].get<std::string>().find("truncated PNG") != std::string::npos);
  CHECK(j["info"]["sam2_amg"]["run"]["complete"] == true);
  CHECK(j["annotations"].size() == 9);  // background, red and blue in each good image
}

TEST_CASE("The COCO file and the amg.py PNG folders hold the same masks", "[cli][e2e]") {
  Corpus c(2);
  const std::string out = c.dir.file("masks.json"), dir = c.dir.file("png"), yolo = c.dir.file("labels");
  REQUIRE(run_command(c.command("-q --input " + c.images + " --out " + out + " --out-dir " + dir + " --yolo " + yolo)) == 0);
  const json j = json::parse(slurp(out));
  for (const json& img : j["images"]) {
    const std::string stem = fs::path(img["file_name"].get<std::string>()).stem().string();
    // YOLO: one line per mask, in the same order, each decoding (fillPoly) to its mask.
    std::istringstream labels(slurp(yolo + "/" + stem + ".txt"));
    std::vector<std::string> lines;
    for (std::string line; std::getline(labels, line);) lines.push_back(line);
    const std::string csv = slurp(dir + "/" + stem + "/metadata.csv");
    CHECK(csv.rfind("id,area,bbox_x0,bbox_y0,bbox_w,bbox_h,point_input_x,point_input_y,predicted_iou,"
                    "stability_score,crop_box_x0,crop_box_y0,crop_box_w,crop_box_h\n", 0) == 0);
    int k = 0;
    for (const json& a : j["annotations"]) {
      if (a["image_id"] != img["id"]) continue;
      const Rle rle = rle_from_string(a["segmentation"]["counts"], a["segmentation"]["size"][0],
                                      a["segmentation"]["size"][1]);
      const cv::Mat png = cv::imread(dir + "/" + stem + "/" + std::to_string(k++) + ".png", cv::IMREAD_UNCHANGED);
      REQUIRE(png.type() == CV_8UC1);
      std::vector<std::uint8_t> bits(png.begin<std::uint8_t>(), png.end<std::uint8_t>());
      for (auto& b : bits) b = b == 255;
      CHECK(rle_to_mask(rle) == bits);
      CHECK(a["area"] == area_from_rle(rle));
      REQUIRE(size_t(k) <= lines.size());
      std::istringstream fields(lines[k - 1]);
      int cls = -1;
      fields >> cls;
      CHECK(cls == 0);
      std::vector<cv::Point> ring;
      for (double x, y; fields >> x >> y;) ring.emplace_back(int(std::lround(x * rle.w)), int(std::lround(y * rle.h)));
      cv::Mat filled(rle.h, rle.w, CV_8UC1, cv::Scalar(0));
      cv::fillPoly(filled, std::vector<std::vector<cv::Point>>{ring}, cv::Scalar(1));
      CHECK(rle_iou(rle_from_mask(filled.data, rle.h, rle.w), rle) >= 0.9);
    }
    CHECK(size_t(k) == lines.size());
    CHECK(k > 0);
  }
}

TEST_CASE("JSON lines on stdout with nothing else there, paths from stdin", "[cli][e2e]") {
  Corpus c(3);
  const std::string cmd = "ls " + c.images + "/*.png | " + c.command("--input - --jsonl -") + " > " + c.dir.file("out.jsonl") +
                          " 2> " + c.dir.file("err.txt");
  REQUIRE(run_command(cmd) == 0);
  std::istringstream lines(slurp(c.dir.file("out.jsonl")));
  std::string first;
  REQUIRE(std::getline(lines, first));
  const json run = json::parse(first);  // the run record, once
  CHECK(run["type"] == "run");
  CHECK(run["sam2_amg"]["config"].get<std::string>().find("points_per_side: 8") != std::string::npos);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const json j = json::parse(line);  // throws if anything else reached stdout
    CHECK(j["type"] == "image");
    CHECK(j["image"]["width"] == 64);
    CHECK(j["annotations"].size() == 3);
    CHECK(j["sam2_amg"]["model_sha256"] == run["sam2_amg"]["model_sha256"]);
    CHECK(j["sam2_amg"]["config_sha256"] == run["sam2_amg"]["config_sha256"]);
    CHECK_FALSE(j["sam2_amg"].contains("config"));
  }
  CHECK(n == 3);
  CHECK(slurp(c.dir.file("err.txt")).find("3 images") != std::string::npos);
}

TEST_CASE("A killed run resumes to the same COCO file as an uninterrupted one", "[cli][e2e][resume]") {
  Corpus c(12);
  // Same output path for every run: the path is part of the config each output records.
  const std::string whole = c.dir.file("whole.json"), part = c.dir.file("part.json");
  REQUIRE(run_command(c.command("-q --input " + c.images + " --out " + part)) == 0);
  fs::rename(part, whole);

  // SIGKILL once three images are journalled: no chance to clean up.
  const std::string journal = part + ".partial.jsonl";
  const std::string kill_script = c.command("-q --input " + c.images + " --out " + part) + " & pid=$!; " +
                                  Corpus::wait_for_lines(journal, 3) + "; kill -9 $pid; wait $pid; exit 0";
  REQUIRE(c.bash(kill_script, "kill.sh") == 0);
  CHECK_FALSE(fs::exists(part));
  REQUIRE(run_command(c.command("-q --resume --input " + c.images + " --out " + part + " 2> " + c.dir.file("r.txt"))) == 0);
  CHECK(slurp(part) == slurp(whole));
  CHECK_FALSE(fs::exists(journal));

  // SIGTERM: the current image finishes, a valid file is written, exit 143; --resume completes.
  fs::remove(part);
  const std::string term_script = c.command("-q --input " + c.images + " --out " + part) + " & pid=$!; " +
                                  Corpus::wait_for_lines(journal, 2) + "; kill -TERM $pid; wait $pid; exit $?";
  CHECK(c.bash(term_script, "term.sh") == 143);
  const json partial = json::parse(slurp(part));
  CHECK(partial["images"].size() >= 2);
  CHECK(partial["images"].size() < 12);
  CHECK(partial["info"]["sam2_amg"]["run"]["complete"] == false);  // the file says it is not the whole run
  CHECK(partial["info"]["sam2_amg"]["run"]["stopped_by"] == "SIGTERM");
  REQUIRE(run_command(c.command("-q --resume --input " + c.images + " --out " + part)) == 0);
  CHECK(slurp(part) == slurp(whole));
}

TEST_CASE("Invalid values exit with code 2 and a message", "[cli]") {
  CliFixture f;
  f.add_image("a.png", four_object_scene());
  const std::string base = "--model " + f.file("x.pt") + " --input " + f.images + "/a.png --out " + f.file("o.json");
  const CliResult nms = f.run_binary(base + " --box-nms-thresh 2");
  CHECK(nms.rc == 2);
  CHECK(nms.err.find("box_nms_thresh") != std::string::npos);
  CHECK(f.run_binary(base + " --output-mode png").rc == 2);
  CHECK(f.run_binary(base + " --exif sideways").rc == 2);
  CHECK(f.run_binary(base + " --no-such-flag").rc == 2);
  CHECK(f.run_binary("--input " + f.images).rc == 2);  // no model, no output
  const CliResult missing = f.run_binary(base);
  CHECK(missing.rc == 3);  // model file missing
  CHECK(missing.err.find("x.pt") != std::string::npos);
}

TEST_CASE("A point grid list with no grid is an error naming where it was given", "[cli][config]") {
  CliFixture f;
  const TempDir& dir = f.dir;
  std::ofstream(dir.file("empty.json")) << "[]\n";
  const CliResult e1 = f.run_binary("--print-config --point-grids " + dir.file("empty.json"));
  REQUIRE(e1.rc == 2);
  CHECK(e1.err.find("--point-grids " + dir.file("empty.json") + ": point_grids holds no grid") != std::string::npos);
  std::ofstream(dir.file("c.yaml")) << "pred_iou_thresh: 0.7\npoint_grids: []\n";
  const CliResult e2 = f.run_binary("--print-config --config " + dir.file("c.yaml"));
  REQUIRE(e2.rc == 2);
  CHECK(e2.err.find(dir.file("c.yaml") + ":2: point_grids holds no grid") != std::string::npos);
  // With points_per_side beside it, an empty list means "no grids" (a printed config says so).
  CHECK(f.run_binary("--print-config --points-per-side 16 --point-grids " + dir.file("empty.json")).rc == 0);
}

TEST_CASE("Stats are written per image and summed, tune matches full runs", "[cli][funnel]") {
  Corpus c(2);
  const std::string out = c.dir.file("masks.json");
  REQUIRE(run_command(c.command("--stats --progress none --input " + c.images + " --out " + out + " 2> " +
                            c.dir.file("log.txt"))) == 0);
  const json j = json::parse(slurp(out));
  for (const json& img : j["images"]) {
    CHECK(img["funnel"]["candidates"] == 8 * 8 * 3);
    CHECK(img["funnel"]["final"] == 3);
  }
  const std::string log = slurp(c.dir.file("log.txt"));
  CHECK(log.find("filter funnel") != std::string::npos);
  CHECK(log.find("candidates              384") != std::string::npos);  // 2 images x 192

  // tune: one row per combination; each count equals a separate run's.
  REQUIRE(run_command(c.command("tune -q --input " + c.images + " --pred-iou-thresh-values 0,0.8 " +
                            "--stability-score-thresh-values 0,0.95 > " + c.dir.file("table.txt"))) == 0);
  std::istringstream table(slurp(c.dir.file("table.txt")));
  std::string header;
  std::getline(table, header);
  CHECK(header.find("stability_score_offset") != std::string::npos);
  int rows = 0;
  for (std::string line; std::getline(table, line); ++rows) {
    std::istringstream f(line);
    int row;
    double p, s, o, b;
    long long masks;
    f >> row >> p >> s >> o >> b >> masks;
    const std::string one = c.dir.file("one.json");
    REQUIRE(run_command(c.command("-q --overwrite --input " + c.images + " --out " + one + " --pred-iou-thresh " + std::to_string(p) +
                              " --stability-score-thresh " + std::to_string(s))) == 0);
    CHECK(json::parse(slurp(one))["annotations"].size() == static_cast<size_t>(masks));
  }
  CHECK(rows == 4);
}

TEST_CASE("Output filters: flags and YAML, the funnel, provenance and resume", "[cli][filters]") {
  // Each image: black background 2016 px, blue 640 px, red 416 px.
  Corpus c(2);
  const std::string plain = c.dir.file("plain.json");
  REQUIRE(run_command(c.command("-q --stats --input " + c.images + " --out " + plain)) == 0);
  const json p = json::parse(slurp(plain));
  const std::string recorded = p["info"]["sam2_amg"]["config"];
  // Off: the recorded config and the funnel are what they were before the filters existed.
  for_each_amg_param([&](const char* name, auto, const char*) {
    INFO(name);
    CHECK((recorded.find(std::string("\n") + name + ":") == std::string::npos) == is_output_filter_param(name));
  });
  std::vector<std::string> stages;
  for (const auto& item : p["images"][0]["funnel"].items()) stages.push_back(item.key());
  CHECK(stages.size() == 7);

  // min_area drops the red mask only; sort_by area puts the background first.
  const std::string filtered = c.dir.file("f.json");
  REQUIRE(run_command(c.command("-q --stats --min-area 500 --sort-by area --input " + c.images + " --out " + filtered)) ==
          0);
  const json f = json::parse(slurp(filtered));
  for (const json& img : f["images"]) {
    CHECK(img["funnel"]["after_crop_nms"] == 3);
    CHECK(img["funnel"]["after_min_area"] == 2);
    CHECK(img["funnel"]["final"] == 2);
    CHECK_FALSE(img["funnel"].contains("after_max_masks"));
  }
  std::vector<long long> areas;
  for (const json& a : f["annotations"]) areas.push_back(a["area"]);
  CHECK(areas == std::vector<long long>{2016, 640, 2016, 640});
  const std::string fconfig = f["info"]["sam2_amg"]["config"];
  CHECK(fconfig.find("\nmin_area: 500\n") != std::string::npos);
  CHECK(fconfig.find("\nsort_by: \"area\"\n") != std::string::npos);
  CHECK(fconfig.find("\nmax_area:") == std::string::npos);

  // The fraction form (0.15 of 3072 px = 460.8 px) gives the same masks; YAML keys work too.
  std::ofstream(c.dir.file("filters.yaml")) << "min_area_fraction: 0.15\nsort_by: area\n";
  const std::string frac = c.dir.file("frac.json");
  REQUIRE(run_command(c.command("-q --config " + c.dir.file("filters.yaml") + " --input " + c.images + " --out " + frac)) ==
          0);
  CHECK(json::parse(slurp(frac))["annotations"] == f["annotations"]);

  // max_masks_per_image by area keeps the largest; the printed config lists every filter.
  std::ofstream(c.dir.file("top.yaml")) << "max_masks_per_image: 1\nmax_masks_by: area\n";
  REQUIRE(run_command(c.command("-q --config " + c.dir.file("top.yaml") + " --input " + c.images + " --jsonl " +
                            c.dir.file("top.jsonl"))) == 0);
  std::istringstream lines(slurp(c.dir.file("top.jsonl")));
  int n = 0;
  for (std::string line; std::getline(lines, line);) {
    const json j = json::parse(line);
    if (j["type"] != "image") continue;  // the run record
    ++n;
    REQUIRE(j["annotations"].size() == 1);
    CHECK(j["annotations"][0]["area"] == 2016);
  }
  CHECK(n == 2);
  REQUIRE(run_command(c.command("--config " + c.dir.file("top.yaml") + " --print-config > " + c.dir.file("eff.yaml"))) ==
          0);
  const std::string eff = slurp(c.dir.file("eff.yaml"));
  for (const char* line : {"\nmin_area: 0\n", "\nmax_area_fraction: 0.0\n", "\nmax_masks_per_image: 1\n",
                           "\nmax_masks_by: \"area\"\n", "\nsort_by: \"reference\"\n"})
    CHECK(eff.find(line) != std::string::npos);

  // Resume refuses outputs of another filter (and continues those of the same one).
  CHECK(run_command(c.command("-q --resume --config " + c.dir.file("top.yaml") + " --max-masks-per-image 2 --input " +
                          c.images + " --jsonl " + c.dir.file("top.jsonl") + " 2> " + c.dir.file("e.txt"))) == 2);
  CHECK(slurp(c.dir.file("e.txt")).find("holds results of another model or config") != std::string::npos);
  CHECK(run_command(
            c.command("-q --resume --input " + c.images + " --jsonl " + c.dir.file("top.jsonl") + " 2> /dev/null")) == 2);
  CHECK(run_command(c.command("-q --resume --config " + c.dir.file("top.yaml") + " --input " + c.images + " --jsonl " +
                          c.dir.file("top.jsonl"))) == 0);

  // Marked as extensions in --help.
  const CliResult r = c.run_binary("--help 2>&1");
  REQUIRE(r.rc == 0);
  const std::string& help = r.out;
  const size_t group = help.find("Output filters (sam2-amg extensions");
  REQUIRE(group != std::string::npos);
  CHECK(help.find("--max-masks-per-image", group) != std::string::npos);
  CHECK(help.find("--pred-iou-thresh", group) == std::string::npos);
}

TEST_CASE("docs/parameters.md explains every AMG parameter", "[cli][docs]") {
  const std::string doc = slurp(std::string(SAM2AMG_SOURCE_DIR) + "/docs/parameters.md");
  for_each_amg_param([&](const char* name, auto, const char*) {
    INFO(name);
    CHECK(doc.find(std::string("`") + name + "`") != std::string::npos);
  });
}

TEST_CASE("A closed stdout cannot leak JSON lines into other outputs", "[cli][e2e]") {
  Corpus c(2);
  const std::string out = c.dir.file("m.json");
  // stdout closed: standard streams are reopened on /dev/null before any output file is opened,
  // so the COCO journal (which would otherwise take descriptor 1) gets no JSON lines.
  REQUIRE(run_command(c.command("-q --input " + c.images + " --out " + out + " --jsonl - >&- 2>/dev/null")) == 0);
  const json j = json::parse(slurp(out));
  CHECK(j["images"].size() == 2);
  for (const json& a : j["annotations"]) CHECK(a.contains("category_id"));
}
