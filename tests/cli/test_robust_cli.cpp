// The real binary on damaged images, odd folder entries and names, a full disk and an early end:
// each is named on stderr through the log only, counted, and recorded in the outputs.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The CLI fixture, without progress output.
struct RobustCorpus : CliFixture {
  RobustCorpus() { flags = "--progress none"; }
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

TEST_CASE("Damaged JPEGs are skipped and named (exit 4), codec messages only through the log", "[cli][corrupt]") {
  RobustCorpus c;
  c.add_image("good.png");
  const std::string jpg = noisy_jpeg();
  const size_t mid = jpg.size() / 2;
  std::string zeroed = jpg;
  std::fill(zeroed.begin() + long(mid), zeroed.begin() + long(mid) + 64, '\0');
  const std::string cut = jpg.substr(0, mid) + "\xFF\xD9";                // cut, and given an end-of-image marker
  std::ofstream(c.images + "/zero\ned.jpg", std::ios::binary) << zeroed;  // a newline in the name too
  std::ofstream(c.images + "/cut.jpg", std::ios::binary) << cut;
  const std::string out = c.dir.file("m.json");

  CHECK(run_command(c.command("--input " + c.images + " --out " + out + " 2> " + c.dir.file("e1.txt"))) == 4);
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
  // The outputs say which inputs were skipped, and why.
  const json unreadable = coco["info"]["sam2_amg"]["run"]["unreadable"];
  REQUIRE(unreadable.size() == 2);
  CHECK(unreadable[0]["path"] == c.images + "/cut.jpg");
  CHECK(unreadable[1]["path"] == c.images + "/zero\ned.jpg");
  CHECK(unreadable[1]["reason"].get<std::string>().find("damaged image data") != std::string::npos);

  // Accepted on request (flag or YAML key): read, with the damage logged against the file.
  CHECK(run_command(c.command("--overwrite --accept-corrupt-images --input " + c.images + " --out " + out + " 2> " +
                          c.dir.file("e2.txt"))) == 0);
  const std::string accepted = slurp(c.dir.file("e2.txt"));
  for (const std::string& line : lines_of(accepted)) CHECK(line.rfind("[", 0) == 0);
  CHECK(accepted.find("'" + c.images +
                      "/cut.jpg': libjpeg: Corrupt JPEG data: premature end of data segment (read "
                      "anyway: --accept-corrupt-images)") != std::string::npos);
  CHECK(json::parse(slurp(out))["images"].size() == 3);
  std::ofstream(c.dir.file("run.yaml")) << "accept_corrupt_images: true\n";
  CHECK(run_command(c.command("--config " + c.dir.file("run.yaml") + " --overwrite --input " + c.images + " --out " + out +
                          " 2>/dev/null")) == 0);
  CHECK(json::parse(slurp(out))["images"].size() == 3);
}

TEST_CASE("Dangling links and link loops in a folder input are logged at -v and counted", "[cli][skipped]") {
  RobustCorpus c;
  c.add_image("good.png");
  c.add_image("new\nline.png");
  fs::create_symlink(c.images + "/gone.png", c.images + "/dangling.png");
  fs::create_symlink(c.images + "/loop.png", c.images + "/loop.png");
  const std::string out = c.dir.file("m.json");
  REQUIRE(run_command(c.command("-v --input " + c.images + " --out " + out + " 2> " + c.dir.file("e.txt"))) == 0);
  const std::string err = slurp(c.dir.file("e.txt"));
  INFO(err);
  CHECK(err.find("not an input: '" + c.images + "/dangling.png': dangling symbolic link") != std::string::npos);
  CHECK(err.find("not an input: '" + c.images + "/loop.png': symbolic link loop") != std::string::npos);
  CHECK(err.find("2 images (0 resumed), 6 masks, 0 unreadable, 2 folder entries skipped (-v lists them)") !=
        std::string::npos);
  // The name with a newline is logged on one line.
  CHECK(err.find(c.images + "/new\\nline.png: 3 masks") != std::string::npos);
  for (const std::string& line : lines_of(err)) CHECK(line.rfind("[", 0) == 0);
  const json skipped = json::parse(slurp(out))["info"]["sam2_amg"]["run"]["skipped_entries"];
  REQUIRE(skipped.size() == 2);
  CHECK(skipped[0]["path"] == c.images + "/dangling.png");
  CHECK(skipped[1]["reason"] == "symbolic link loop");
}

TEST_CASE("A full disk never leaves a torn JSON line, the run exits 5 and resumes", "[cli][torn]") {
  RobustCorpus c;
  for (int i = 0; i < 8; ++i) c.add_image("img" + std::to_string(i) + ".png");
  const std::string jsonl = c.dir.file("m.jsonl");
  // ulimit -f counts 1024-byte blocks: room for a few lines of ~1.3 KB, not all eight.
  CHECK(run_command("bash -c 'ulimit -f 6; " + c.command("--input " + c.images + " --jsonl " + jsonl) + "' 2> " +
                    c.dir.file("e.txt")) == 5);
  const std::string data = slurp(jsonl);
  INFO(slurp(c.dir.file("e.txt")));
  REQUIRE(!data.empty());
  CHECK(data.back() == '\n');
  const auto lines = lines_of(data);
  CHECK(lines.size() < 1 + 8);  // the run record, then one line per image
  for (const std::string& line : lines) CHECK_NOTHROW(json::parse(line));
  CHECK(slurp(c.dir.file("e.txt")).find("cannot write '" + jsonl + "'") != std::string::npos);
  // With room again, --resume completes the file.
  REQUIRE(run_command(c.command("-q --resume --input " + c.images + " --jsonl " + jsonl)) == 0);
  CHECK(lines_of(slurp(jsonl)).size() == 1 + 8);
}

TEST_CASE("The atomic commit syncs the file before the rename and the folder after it", "[cli][fsync]") {
  if (run_command("strace -o /dev/null true 2>/dev/null") != 0)
    SAM2AMG_SKIP("strace cannot run here (scripts/setup-debian.sh --tests installs it)");
  RobustCorpus c;
  c.add_image("a.png");
  const std::string out = c.dir.file("m.json");
  REQUIRE(run_command("strace -f -e trace=fsync,rename,renameat,renameat2 -o " + c.dir.file("trace.txt") + " " +
                      c.command("-q --input " + c.images + " --out " + out)) == 0);
  const auto calls = lines_of(slurp(c.dir.file("trace.txt")));
  size_t rename_at = calls.size();
  for (size_t i = 0; i < calls.size(); ++i)
    if (calls[i].find("rename") != std::string::npos && calls[i].find("\"" + out + "\"") != std::string::npos)
      rename_at = i;
  REQUIRE(rename_at < calls.size());
  CHECK(rename_at > 0);
  CHECK(calls[rename_at - 1].find("fsync(") != std::string::npos);  // the data, then the rename
  REQUIRE(rename_at + 1 < calls.size());
  CHECK(calls[rename_at + 1].find("fsync(") != std::string::npos);  // then the folder
}
