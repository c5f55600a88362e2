// Overlays from the real binary: beside any output, resumable, refused where they would clobber.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

// The CLI fixture with two images, one in a sub-folder.
struct Pictures : CliFixture {
  Pictures() {
    flags = "-q --progress none";
    add_image("a.png", make_image(64, 48, kBlack, {{8, 8, 40, 30, kRed}}));
    add_image("sub/b.png", make_image(80, 60, kBlack, {{10, 10, 70, 50, kBlue}}));
  }
  // A run over all of them; its standard error in err.txt.
  int overlays(const std::string& args) const {
    return run_command(command("--input " + images + " --recursive " + args) + " 2> " + dir.file("err.txt"));
  }
};

}  // namespace

TEST_CASE("Overlay folder: a picture per image beside --out or --jsonl, resumable", "[cli][overlay]") {
  Pictures p;
  const std::string ov = p.dir.file("ov");
  REQUIRE(p.overlays("--out " + p.dir.file("m.json") + " --overlay-dir " + ov) == 0);
  // Named like the per-image outputs: relative path, stem, .overlay.png; the image's size.
  const cv::Mat a = cv::imread(ov + "/a.overlay.png"), b = cv::imread(ov + "/sub/b.overlay.png");
  REQUIRE(!a.empty());
  REQUIRE(!b.empty());
  CHECK(a.cols == 64);
  CHECK(a.rows == 48);
  CHECK(b.cols == 80);
  // The red object is drawn over: its centre is no longer pure red.
  const cv::Vec3b centre = a.at<cv::Vec3b>(12, 30);  // BGR, inside the object, away from the label
  CHECK(!(centre[0] == 0 && centre[1] == 0 && centre[2] == 255));
  CHECK_FALSE(fs::exists(ov + "/.sam2amg-overlays.lock"));

  // Existing overlays are refused without --resume or --overwrite (exit 2), with a JSONL output too.
  CHECK(p.overlays("--jsonl " + p.dir.file("x.jsonl") + " --overlay-dir " + ov) == 2);
  CHECK(slurp(p.dir.file("err.txt")).find("a.overlay.png") != std::string::npos);
  CHECK_FALSE(fs::exists(p.dir.file("x.jsonl")));
  // --resume redoes an image whose overlay is missing, and only that one.
  fs::remove(ov + "/sub/b.overlay.png");
  const auto a_time = fs::last_write_time(ov + "/a.overlay.png");
  REQUIRE(p.overlays("--out " + p.dir.file("m.json") + " --overlay-dir " + ov + " --resume") == 0);
  CHECK(fs::exists(ov + "/sub/b.overlay.png"));
  CHECK(fs::last_write_time(ov + "/a.overlay.png") == a_time);
}

TEST_CASE("Overlays in --out-dir with --overlay, overlay options without an overlay refused", "[cli][overlay]") {
  Pictures p;
  const std::string out = p.dir.file("out");
  REQUIRE(p.overlays("--out-dir " + out + " --output-mode coco_rle --overlay --overlay-scores") == 0);
  CHECK(fs::exists(out + "/a.json"));
  CHECK(fs::exists(out + "/a.overlay.png"));
  CHECK(fs::exists(out + "/sub/b.overlay.png"));
  CHECK(p.overlays("--jsonl " + p.dir.file("y.jsonl") + " --overlay-scores") == 2);
  CHECK(p.overlays("--jsonl " + p.dir.file("y.jsonl") + " --overlay") == 2);
  // An overlay folder that would write over an input is refused.
  CHECK(p.overlays("--jsonl " + p.dir.file("z.jsonl") + " --overlay-dir " + p.images) == 0);
  p.add_image("c.overlay.png", make_image(8, 8, kBlack, {}));
  p.add_image("c.png", make_image(8, 8, kBlack, {}));
  CHECK(p.overlays("--jsonl " + p.dir.file("w.jsonl") + " --overlay-dir " + p.images + " --overwrite") == 2);
  CHECK(slurp(p.dir.file("err.txt")).find("is also an input") != std::string::npos);
}

TEST_CASE("tune draws the chosen rows into --overlay-dir", "[cli][overlay]") {
  Pictures p;
  const std::string ov = p.dir.file("rows");
  REQUIRE(p.overlays("tune --pred-iou-thresh-values 0.5,0.9 --overlay-dir " + ov + " --overlay-rows 2 > " +
                p.dir.file("table.txt")) == 0);
  CHECK(fs::exists(ov + "/a.row2.png"));
  CHECK(fs::exists(ov + "/sub/b.row2.png"));
  CHECK_FALSE(fs::exists(ov + "/a.row1.png"));
}
