// PNG and JPEG decoding with our own libpng/libjpeg handlers: the same pixels as OpenCV for good
// files, damaged files refused (or accepted on request) with the codec's reason, nothing printed.
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

// clang-format off
#include <cstdio>
#include <jpeglib.h>
// clang-format on
#include <png.h>

#include <fstream>
#include <random>

#include "common/error.h"
#include "io/image_codecs.h"
#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

// A photo-like picture: gradients, a few shapes and noise, so a JPEG scan has real content.
cv::Mat photo(int width, int height, int type = CV_8UC3) {
  cv::Mat m(height, width, CV_8UC3);
  std::mt19937 rng(7);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>((x * 255) / width), static_cast<uchar>((y * 255) / height),
                                        static_cast<uchar>(rng() % 256));
  cv::circle(m, {width / 3, height / 2}, height / 4, cv::Scalar(20, 200, 90), -1);
  cv::rectangle(m, {width / 2, height / 5}, {width - 5, height / 2}, cv::Scalar(240, 30, 60), -1);
  if (type == CV_8UC1) cv::cvtColor(m, m, cv::COLOR_BGR2GRAY);
  return m;
}

std::vector<std::uint8_t> encode(const std::string& ext, const cv::Mat& m, const std::vector<int>& params = {}) {
  std::vector<std::uint8_t> bytes;
  REQUIRE(cv::imencode(ext, m, bytes, params));
  return bytes;
}

void put(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// What OpenCV's imdecode gives for the file, as RGB.
std::vector<std::uint8_t> opencv_rgb(const std::vector<std::uint8_t>& bytes, bool apply_exif, int* w = nullptr,
                                     int* h = nullptr) {
  int flags = cv::IMREAD_COLOR;
  if (!apply_exif) flags |= cv::IMREAD_IGNORE_ORIENTATION;
  cv::Mat bgr = cv::imdecode(bytes, flags), rgb;
  if (bgr.empty()) return {};
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (w) *w = rgb.cols;
  if (h) *h = rgb.rows;
  return std::vector<std::uint8_t>(rgb.data, rgb.data + rgb.total() * 3);
}

void check_same_as_opencv(const TempDir& dir, const std::string& name, const std::vector<std::uint8_t>& bytes,
                          bool apply_exif = true) {
  INFO(name);
  put(dir.file(name), bytes);
  int w = 0, h = 0;
  const std::vector<std::uint8_t> expected = opencv_rgb(bytes, apply_exif, &w, &h);
  REQUIRE(!expected.empty());
  ReadOptions options;
  options.apply_exif = apply_exif;
  std::vector<ReadWarning> warnings;
  const ImageU8 got = read_image_rgb(dir.file(name), options, &warnings);
  CHECK(got.width == w);
  CHECK(got.height == h);
  CHECK(got.rgb == expected);
  CHECK(warnings.empty());
}

// An APP1 EXIF segment holding one IFD entry: the orientation tag (little- or big-endian TIFF).
std::vector<std::uint8_t> with_orientation(const std::vector<std::uint8_t>& jpeg, int orientation, bool big_endian) {
  std::vector<std::uint8_t> tiff =
      big_endian ? std::vector<std::uint8_t>{'M',  'M',  0, 42, 0, 0, 0, 8, 0, 1,
                                             0x01, 0x12, 0, 3,  0, 0, 0, 1, 0, std::uint8_t(orientation),
                                             0,    0,    0, 0,  0, 0}
                 : std::vector<std::uint8_t>{
                       'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, std::uint8_t(orientation),
                       0,   0,   0,  0, 0, 0, 0};
  std::vector<std::uint8_t> app1 = {0xFF, 0xE1, 0, 0, 'E', 'x', 'i', 'f', 0, 0};
  app1.insert(app1.end(), tiff.begin(), tiff.end());
  app1[3] = static_cast<std::uint8_t>(app1.size() - 2);
  std::vector<std::uint8_t> out(jpeg.begin(), jpeg.begin() + 2);
  out.insert(out.end(), app1.begin(), app1.end());
  out.insert(out.end(), jpeg.begin() + 2, jpeg.end());
  return out;
}

// A CMYK JPEG (libjpeg writes the Adobe marker), which OpenCV's own encoder cannot make.
std::vector<std::uint8_t> cmyk_jpeg(int width, int height) {
  jpeg_compress_struct c;
  jpeg_error_mgr err;
  c.err = jpeg_std_error(&err);
  jpeg_create_compress(&c);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&c, &buffer, &size);
  c.image_width = width;
  c.image_height = height;
  c.input_components = 4;
  c.in_color_space = JCS_CMYK;
  jpeg_set_defaults(&c);
  jpeg_set_quality(&c, 90, TRUE);
  jpeg_start_compress(&c, TRUE);
  std::vector<std::uint8_t> row(size_t(width) * 4);
  while (c.next_scanline < c.image_height) {
    for (int x = 0; x < width; ++x)
      for (int k = 0; k < 4; ++k)
        row[size_t(x) * 4 + k] = static_cast<std::uint8_t>((x * 37 + c.next_scanline * 11 + k * 60) % 256);
    JSAMPROW r = row.data();
    jpeg_write_scanlines(&c, &r, 1);
  }
  jpeg_finish_compress(&c);
  jpeg_destroy_compress(&c);
  std::vector<std::uint8_t> out(buffer, buffer + size);
  std::free(buffer);
  return out;
}

// A PNG written with libpng itself: a palette with transparency (OpenCV writes none), Adam7
// interlacing, an eXIf chunk with an orientation (0: none).
std::vector<std::uint8_t> libpng_png(int width, int height, bool palette, bool interlaced, int orientation) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::vector<std::uint8_t> out;
  png_set_write_fn(
      png, &out,
      [](png_structp p, png_bytep data, size_t n) {
        auto* o = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(p));
        o->insert(o->end(), data, data + n);
      },
      nullptr);
  png_set_IHDR(png, info, width, height, 8, palette ? PNG_COLOR_TYPE_PALETTE : PNG_COLOR_TYPE_RGB,
               interlaced ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  std::vector<png_color> colours(16);
  std::vector<png_byte> alpha(16);
  for (int i = 0; i < 16; ++i) {
    colours[i] = {png_byte(i * 16), png_byte(255 - i * 16), png_byte(i * 7)};
    alpha[i] = png_byte(i * 17);
  }
  if (palette) {
    png_set_PLTE(png, info, colours.data(), 16);
    png_set_tRNS(png, info, alpha.data(), 16, nullptr);
  }
  std::vector<png_byte> exif = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0, png_byte(orientation),
                                0,   0,   0,  0, 0, 0, 0};
  if (orientation) png_set_eXIf_1(png, info, static_cast<png_uint_32>(exif.size()), exif.data());
  png_write_info(png, info);
  const int channels = palette ? 1 : 3;
  std::vector<png_byte> pixels(size_t(width) * height * channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < channels; ++c)
        pixels[(size_t(y) * width + x) * channels + c] =
            palette ? png_byte((x / 3 + y) % 16) : png_byte((x * 5 + y * 3 + c * 40) % 256);
  std::vector<png_bytep> rows(height);
  for (int y = 0; y < height; ++y) rows[y] = pixels.data() + size_t(y) * width * channels;
  png_write_image(png, rows.data());
  png_write_end(png, nullptr);  // with info, libpng writes the eXIf chunk a second time
  png_destroy_write_struct(&png, &info);
  return out;
}

// Offset of the first byte after the main start-of-scan header.
size_t scan_start(const std::vector<std::uint8_t>& jpeg) {
  for (size_t i = 2; i + 3 < jpeg.size();) {
    if (jpeg[i + 1] == 0xDA) return i + 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
    i += 2 + ((jpeg[i + 2] << 8) | jpeg[i + 3]);
  }
  return 0;
}

std::string read_error(const std::string& path, const ReadOptions& options = {}) {
  try {
    read_image_rgb(path, options);
  } catch (const ImageReadError& e) {
    CHECK(e.exit_code() == 4);
    return e.what();
  }
  return "read fine";
}

}  // namespace

TEST_CASE("Good PNGs and JPEGs decode to exactly OpenCV's pixels", "[io][image][codec]") {
  TempDir dir;
  const cv::Mat bgr = photo(97, 61), gray = photo(97, 61, CV_8UC1);
  cv::Mat bgra, gray16, bgr16;
  cv::cvtColor(bgr, bgra, cv::COLOR_BGR2BGRA);
  bgra.forEach<cv::Vec4b>([](cv::Vec4b& p, const int* pos) { p[3] = static_cast<uchar>(pos[1] * 2); });
  gray.convertTo(gray16, CV_16U, 257.0, 91.0);  // low bytes that differ: cut, not rounded, to 8 bits
  bgr.convertTo(bgr16, CV_16U, 256.0, 200.0);
  check_same_as_opencv(dir, "rgb.png", encode(".png", bgr));
  check_same_as_opencv(dir, "rgba.png", encode(".png", bgra));
  check_same_as_opencv(dir, "gray.png", encode(".png", gray));
  check_same_as_opencv(dir, "gray16.png", encode(".png", gray16));
  check_same_as_opencv(dir, "rgb16.png", encode(".png", bgr16));
  check_same_as_opencv(dir, "bilevel.png", encode(".png", gray, {cv::IMWRITE_PNG_BILEVEL, 1}));
  check_same_as_opencv(dir, "q90.jpg", encode(".jpg", bgr, {cv::IMWRITE_JPEG_QUALITY, 90}));
  check_same_as_opencv(dir, "optimized.jpg", encode(".jpg", bgr, {cv::IMWRITE_JPEG_OPTIMIZE, 1}));
  check_same_as_opencv(dir, "progressive.jpg", encode(".jpg", bgr, {cv::IMWRITE_JPEG_PROGRESSIVE, 1}));
  check_same_as_opencv(dir, "gray.jpg", encode(".jpg", gray));
  check_same_as_opencv(dir, "cmyk.jpg", cmyk_jpeg(45, 30));
  check_same_as_opencv(dir, "palette-trns.png", libpng_png(45, 30, /*palette=*/true, /*interlaced=*/false, 0));
  check_same_as_opencv(dir, "interlaced.png", libpng_png(45, 30, /*palette=*/false, /*interlaced=*/true, 0));
  check_same_as_opencv(dir, "palette-interlaced.png", libpng_png(45, 30, true, true, 0));
  put(dir.file("exif6-size.png"), libpng_png(45, 30, false, false, 6));
  CHECK(read_image_rgb(dir.file("exif6-size.png")).width == 30);  // the PNG's orientation is applied too
  for (int o : {3, 6, 8}) {
    check_same_as_opencv(dir, "exif" + std::to_string(o) + ".png", libpng_png(45, 30, false, false, o));
    check_same_as_opencv(dir, "exif" + std::to_string(o) + "-ignored.png", libpng_png(45, 30, false, false, o),
                         /*apply_exif=*/false);
  }

  // EXIF orientation: every value, both byte orders, applied or ignored as OpenCV does.
  const std::vector<std::uint8_t> jpg = encode(".jpg", bgr);
  for (int o = 1; o <= 8; ++o)
    for (bool be : {false, true}) {
      const std::vector<std::uint8_t> rotated = with_orientation(jpg, o, be);
      CHECK(exif_orientation(rotated.data() + 12, rotated.size() - 12) == o);
      check_same_as_opencv(dir, "o" + std::to_string(o) + (be ? "be" : "le") + ".jpg", rotated);
      check_same_as_opencv(dir, "o" + std::to_string(o) + "-ignored.jpg", rotated, /*apply_exif=*/false);
    }
  const ImageU8 turned = read_image_rgb((put(dir.file("o6.jpg"), with_orientation(jpg, 6, false)), dir.file("o6.jpg")));
  CHECK(turned.width == 61);  // 6: rotated a quarter turn
  CHECK(turned.height == 97);
}

TEST_CASE("A JPEG with a damaged scan is refused with libjpeg's reason, or read on request", "[io][image][codec]") {
  TempDir dir;
  const std::vector<std::uint8_t> good = encode(".jpg", photo(320, 240), {cv::IMWRITE_JPEG_QUALITY, 95});
  const size_t scan = scan_start(good);
  REQUIRE(scan > 0);
  REQUIRE(good.size() > scan + 4000);
  // Zeroed bytes in the middle of the scan.
  std::vector<std::uint8_t> zeroed = good;
  std::fill(zeroed.begin() + long(scan + (good.size() - scan) / 2),
            zeroed.begin() + long(scan + (good.size() - scan) / 2 + 64), 0);
  // Cut in the middle of the scan and given an end-of-image marker (passes the truncation check).
  std::vector<std::uint8_t> cut(good.begin(), good.begin() + long(scan + (good.size() - scan) / 2));
  cut.push_back(0xFF);
  cut.push_back(0xD9);
  for (const auto& [name, bytes] :
       {std::pair<std::string, std::vector<std::uint8_t>>{"zeroed.jpg", zeroed}, {"cut-eoi.jpg", cut}}) {
    INFO(name);
    put(dir.file(name), bytes);
    REQUIRE(!opencv_rgb(bytes, true).empty());  // OpenCV decodes it without a word
    const std::string why = read_error(dir.file(name));
    CHECK(why.find("cannot read image '" + dir.file(name) + "': damaged image data (libjpeg: Corrupt JPEG data") !=
          std::string::npos);
    CHECK(why.find("--accept-corrupt-images") != std::string::npos);
    // Accepted on request: decoded, and the damage handed back for the log.
    ReadOptions accept;
    accept.accept_damaged = true;
    std::vector<ReadWarning> warnings;
    const ImageU8 img = read_image_rgb(dir.file(name), accept, &warnings);
    CHECK(img.width == 320);
    CHECK(img.height == 240);
    REQUIRE(!warnings.empty());
    CHECK(warnings[0].damage);
    CHECK(warnings[0].message.rfind("libjpeg: Corrupt JPEG data", 0) == 0);
  }
  CHECK(read_error(dir.file("missing.jpg")).find("no such file") != std::string::npos);
  put(dir.file("good.jpg"), good);
  CHECK(read_error(dir.file("good.jpg")) == "read fine");
}

TEST_CASE("PNG: metadata warnings are notes, damaged image data is refused", "[io][image][codec]") {
  TempDir dir;
  const std::vector<std::uint8_t> png = encode(".png", photo(40, 30));
  // A tEXt chunk with a wrong checksum after IHDR (8 + 25 bytes): libpng drops it with a warning;
  // the pixels are whole.
  const std::vector<std::uint8_t> text = {0, 0, 0, 4, 't', 'E', 'X', 't', 'a', 0, 'b', 'c', 1, 2, 3, 4};
  std::vector<std::uint8_t> noted(png.begin(), png.begin() + 33);
  noted.insert(noted.end(), text.begin(), text.end());
  noted.insert(noted.end(), png.begin() + 33, png.end());
  put(dir.file("noted.png"), noted);
  std::vector<ReadWarning> warnings;
  const ImageU8 img = read_image_rgb(dir.file("noted.png"), {}, &warnings);
  CHECK(img.rgb == opencv_rgb(png, true));
  REQUIRE(warnings.size() == 1);
  CHECK_FALSE(warnings[0].damage);
  CHECK(warnings[0].message == "libpng: tEXt: CRC error");

  // A flipped byte in the compressed image data: refused with libpng's reason.
  std::vector<std::uint8_t> flipped = png;
  size_t idat = 0;
  for (size_t i = 8; i + 8 < png.size() && !idat; ++i)
    if (std::equal(png.begin() + long(i), png.begin() + long(i) + 4, "IDAT")) idat = i;
  REQUIRE(idat > 0);
  flipped[idat + 20] ^= 0x55;
  put(dir.file("flipped.png"), flipped);
  const std::string why = read_error(dir.file("flipped.png"));
  INFO(why);
  CHECK(why.find("not a readable image (libpng: IDAT: ") != std::string::npos);
}
