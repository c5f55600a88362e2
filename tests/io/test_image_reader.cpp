// Reading images: 8-bit RGB whatever the file holds, and broken files refused with their reason.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

TEST_CASE("Images are read as 8-bit RGB whatever the file holds", "[io][image]") {
  TempDir dir;
  const ImageU8 img = make_image(7, 5, kBlack, {{1, 1, 3, 4, kRed}, {4, 0, 7, 2, kBlue}});
  write_image_rgb(dir.file("x.png"), img);
  const ImageU8 back = read_image_rgb(dir.file("x.png"));
  CHECK(back.width == 7);
  CHECK(back.height == 5);
  CHECK(back.rgb == img.rgb);  // RGB order survives OpenCV's BGR

  cv::Mat gray(3, 2, CV_8UC1, cv::Scalar(77));
  cv::imwrite(dir.file("g.png"), gray);
  const ImageU8 g = read_image_rgb(dir.file("g.png"));
  CHECK(g.rgb == std::vector<std::uint8_t>(3 * 2 * 3, 77));  // replicated to three channels

  cv::Mat rgba(2, 2, CV_8UC4, cv::Scalar(10, 20, 30, 0));  // BGRA, fully transparent
  cv::imwrite(dir.file("a.png"), rgba);
  const ImageU8 a = read_image_rgb(dir.file("a.png"));
  CHECK(a.rgb[0] == 30);  // alpha dropped, not composited
  CHECK(a.rgb[2] == 10);

  cv::Mat deep(2, 2, CV_16UC1, cv::Scalar(65535));
  cv::imwrite(dir.file("d.png"), deep);
  CHECK(read_image_rgb(dir.file("d.png")).rgb[0] == 255);  // 16-bit reduced to 8-bit
}

TEST_CASE("Broken image files are refused with their reason", "[io][image]") {
  TempDir dir;
  const ImageU8 img = make_image(64, 48, kBlack, {{8, 8, 40, 40, kRed}});
  write_image_rgb(dir.file("ok.png"), img);
  write_image_rgb(dir.file("ok.jpg"), img);
  const std::string png = slurp(dir.file("ok.png")), jpg = slurp(dir.file("ok.jpg"));
  auto put = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir.file(name), std::ios::binary) << bytes;
  };
  put("empty.png", "");
  put("text.png", "hello, not an image");
  put("cut.png", png.substr(0, png.size() / 2));
  put("cut.jpg", jpg.substr(0, jpg.size() / 2));
  // A valid PNG signature and IHDR claiming 100000 x 100000 pixels: refused before decoding.
  std::string huge = png;
  for (int k : {16, 20}) {
    huge[k] = 0;
    huge[k + 1] = 0x01;
    huge[k + 2] = char(0x86);
    huge[k + 3] = char(0xA0);
  }
  put("huge.png", huge);
  auto reason = [&](const std::string& name) {
    try {
      read_image_rgb(dir.file(name));
    } catch (const ImageReadError& e) {
      CHECK(e.exit_code() == 4);
      CHECK(e.path() == dir.file(name));
      return std::string(e.what());
    }
    return std::string("read fine");
  };
  CHECK(reason("empty.png").find("empty file") != std::string::npos);
  CHECK(reason("text.png").find("not a readable image") != std::string::npos);
  CHECK(reason("cut.png").find("truncated PNG") != std::string::npos);
  CHECK(reason("cut.jpg").find("truncated JPEG") != std::string::npos);
  CHECK(reason("huge.png").find("100000x100000") != std::string::npos);
  CHECK(reason("missing.png").find("no such file") != std::string::npos);
  CHECK(reason("ok.jpg") == "read fine");
  std::vector<std::uint8_t> jb(jpg.begin(), jpg.end());
  CHECK(probe_image_size(jb) == std::pair<std::int64_t, std::int64_t>{64, 48});
  // Found by fuzzing: 2^32-1 x 2^32-1 overflowed the pixel count, which could then pass.
  std::vector<std::uint8_t> widest(png.begin(), png.end());
  std::fill(widest.begin() + 16, widest.begin() + 24, 0xFF);
  CHECK(image_header_problem(widest, std::int64_t{1} << 28).find("4294967295x4294967295 pixels is above") !=
        std::string::npos);
  CHECK(image_header_problem(std::vector<std::uint8_t>(png.begin(), png.end()), 64 * 48) == "");
  CHECK(image_header_problem(std::vector<std::uint8_t>(png.begin(), png.end()), 64 * 48 - 1).find("64x48") !=
        std::string::npos);
}
