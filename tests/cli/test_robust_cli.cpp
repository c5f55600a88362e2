// The real binary on damaged images: named on stderr through the log only, and counted.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct RobustCorpus {
  TempDir dir;
  std::string model = dir.file("synthetic.pt");
  std::string images = dir.file("in");
  RobustCorpus() {
    REQUIRE(run_command(cli_binary() + " make-synthetic-model " + model + " 2>/dev/null") == 0);
    fs::create_directory(images);
  }
  void image(const std::string& name) const {
    write_image_rgb(images + "/" + name, make_image(64, 48, kBlack, {{4, 4, 30, 20, kRed}, {20, 28, 60, 44, kBlue}}));
  }
  std::string run(const std::string& args) const {
    return cli_binary() + " --progress none --model " + model + " --device " + test_device() +
           " --points-per-side 8 " + args;
  }
};

// A noisy photo as JPEG bytes (a scan long enough to damage in the middle).
std::string noisy_jpeg() {
  cv::Mat m(240, 320, CV_8UC3);
  std::mt19937 rng(3);
  for (auto it = m.begin<cv::Vec3b>(); it != m.end<cv::Vec3b>(); ++it)
    *it = cv::Vec3b(uchar(rng() % 256), uchar(rng() % 256), uchar(rng() % 256));
  std::vector<uchar> bytes;
  REQUIRE(cv::imencode(".jpg", m, bytes));
  return std::string(bytes.begin(), bytes.end());
}

// Every line of a log: each must come from the logger ("[level] ...").
std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string s; std::getline(in, s);) out.push_back(s);
  return out;
}

}  // namespace

TEST_CASE("Damaged JPEGs are skipped and named (exit 4), codec messages only through the log",
          "[cli][corrupt]") {
  RobustCorpus c;
  c.image("good.png");
  const std::string jpg = noisy_jpeg();
  const size_t mid = jpg.size() / 2;
  std::string zeroed = jpg;
  std::fill(zeroed.begin() + long(mid), zeroed.begin() + long(mid) + 64, '\0');
  const std::string cut = jpg.substr(0, mid) + "\xFF\xD9";  // cut, and given an end-of-image marker
  std::ofstream(c.images + "/zero\ned.jpg", std::ios::binary) << zeroed;  // a newline in the name too
  std::ofstream(c.images + "/cut.jpg", std::ios::binary) << cut;
  const std::string out = c.dir.file("m.json");

  CHECK(run_command(c.run("--input " + c.images + " --out " + out + " 2> " + c.dir.file("e1.txt"))) == 4);
  const std::string err = slurp(c.dir.file("e1.txt"));
  INFO(err);
  for (const std::string& line : lines_of(err)) CHECK(line.rfind("[", 0) == 0);  // nothing raw from libjpeg
  CHECK(err.find("skipped: cannot read image '" + c.images +
                 "/cut.jpg': damaged image data (libjpeg: Corrupt JPEG data: premature end of data segment)") !=
        std::string::npos);
  CHECK(err.find("skipped: cannot read image '" + c.images + "/zero\\ned.jpg': damaged image data (libjpeg: ") !=
        std::string::npos);
  CHECK(err.find("2 unreadable") != std::string::npos);
  const json coco = json::parse(slurp(out));
  CHECK(coco["images"].size() == 1);

  // Accepted on request (flag or YAML key): read, with the damage logged against the file.
  CHECK(run_command(c.run("--overwrite --accept-corrupt-images --input " + c.images + " --out " + out + " 2> " +
                          c.dir.file("e2.txt"))) == 0);
  const std::string accepted = slurp(c.dir.file("e2.txt"));
  for (const std::string& line : lines_of(accepted)) CHECK(line.rfind("[", 0) == 0);
  CHECK(accepted.find("'" + c.images + "/cut.jpg': libjpeg: Corrupt JPEG data: premature end of data segment (read "
                      "anyway: --accept-corrupt-images)") != std::string::npos);
  CHECK(json::parse(slurp(out))["images"].size() == 3);
  std::ofstream(c.dir.file("run.yaml")) << "accept_corrupt_images: true\n";
  CHECK(run_command(c.run("--config " + c.dir.file("run.yaml") + " --overwrite --input " + c.images + " --out " + out +
                          " 2>/dev/null")) == 0);
  CHECK(json::parse(slurp(out))["images"].size() == 3);
}
