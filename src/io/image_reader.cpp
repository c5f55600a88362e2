#include "io/image_reader.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "io/image_codecs.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

std::uint32_t be32(const std::uint8_t* p) { return (p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]; }
std::uint32_t le32(const std::uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (std::uint32_t(p[3]) << 24); }


// OpenCV's ApplyExifOrientation, on an RGB image.
void apply_orientation(int orientation, ImageU8& image) {
  if (orientation <= 1 || orientation > 8) return;
  cv::Mat m(image.height, image.width, CV_8UC3, image.rgb.data()), r;
  switch (orientation) {
    case 2: cv::flip(m, r, 1); break;
    case 3: cv::flip(m, r, -1); break;
    case 4: cv::flip(m, r, 0); break;
    case 5: cv::transpose(m, r); break;
    case 6: cv::transpose(m, r); cv::flip(r, r, 1); break;
    case 7: cv::transpose(m, r); cv::flip(r, r, -1); break;
    case 8: cv::transpose(m, r); cv::flip(r, r, 0); break;
  }
  image.width = r.cols;
  image.height = r.rows;
  image.rgb.assign(r.data, r.data + r.total() * 3);
}

// PNG and JPEG: our own libpng/libjpeg handlers, so damaged data is seen and nothing printed.
ImageU8 decode_with_codec(const std::string& path, const std::vector<std::uint8_t>& bytes, const ReadOptions& options,
                          std::vector<ReadWarning>* warnings) {
  CodecReport report;
  ImageU8 image = decode_png_jpeg_rgb(bytes, path, /*stop_at_damage=*/!options.accept_damaged, report);
  if (!report.damage.empty() && !options.accept_damaged)
    throw ImageReadError(path, "damaged image data (" + report.damage.front() +
                                   "); --accept-corrupt-images reads such images anyway");
  if (warnings) {
    for (const std::string& m : report.damage) warnings->push_back({m, true});
    for (const std::string& m : report.notes) warnings->push_back({m, false});
  }
  if (options.apply_exif) apply_orientation(report.exif_orientation, image);
  return image;
}

// A truncated file decodes "successfully" with grey or missing rows in libjpeg/libpng; refuse it.
std::string truncation_problem(const std::vector<std::uint8_t>& b) {
  if (is_png_data(b)) {
    static const std::uint8_t iend[] = {'I', 'E', 'N', 'D'};
    const auto it = std::search(b.begin(), b.end(), std::begin(iend), std::end(iend));
    if (it == b.end()) return "truncated PNG (no IEND chunk)";
  } else if (is_jpeg_data(b)) {
    // Walk the header segments by their lengths (an EXIF thumbnail inside APP1 has markers of
    // its own) to the main start-of-scan; an end-of-image marker must follow it.
    size_t i = 2, sos = std::string::npos;
    while (i + 3 < b.size()) {
      if (b[i] != 0xFF) return "corrupt JPEG header";
      const std::uint8_t marker = b[i + 1];
      if (marker == 0xFF) {
        ++i;
        continue;
      }
      if (marker == 0xDA) {
        sos = i;
        break;
      }
      if (marker == 0xD9) return "JPEG without image data";
      i += 2 + ((b[i + 2] << 8) | b[i + 3]);
    }
    if (sos == std::string::npos) return "truncated JPEG (header cut off)";
    bool eoi = false;
    for (size_t k = b.size() - 1; k > sos + 1 && !eoi; --k) eoi = b[k - 1] == 0xFF && b[k] == 0xD9;
    if (!eoi) return "truncated JPEG (no end of image)";
  }
  return "";
}

}  // namespace

std::pair<std::int64_t, std::int64_t> probe_image_size(const std::vector<std::uint8_t>& b) {
  if (is_png_data(b) && b.size() >= 24) return {be32(&b[16]), be32(&b[20])};
  if (b.size() >= 26 && b[0] == 'B' && b[1] == 'M') {
    const std::int32_t h = static_cast<std::int32_t>(le32(&b[22]));
    return {static_cast<std::int32_t>(le32(&b[18])), h < 0 ? -std::int64_t{h} : h};
  }
  if (is_jpeg_data(b)) {
    size_t i = 2;
    while (i + 9 < b.size()) {
      if (b[i] != 0xFF) return {0, 0};
      const std::uint8_t marker = b[i + 1];
      if (marker == 0xFF) {
        ++i;
        continue;
      }
      const size_t len = (b[i + 2] << 8) | b[i + 3];
      // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC) carry the frame size.
      if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC)
        return {(b[i + 7] << 8) | b[i + 8], (b[i + 5] << 8) | b[i + 6]};
      i += 2 + len;
    }
  }
  return {0, 0};
}

std::string image_header_problem(const std::vector<std::uint8_t>& bytes, std::int64_t max_pixels) {
  if (bytes.empty()) return "empty file";
  const auto [w, h] = probe_image_size(bytes);
  // A PNG's 32-bit width and height multiply beyond int64: compare without the product.
  if (w > 0 && h > 0 && w > max_pixels / h)
    return std::to_string(w) + "x" + std::to_string(h) + " pixels is above max_image_pixels (" +
           std::to_string(max_pixels) + "); raise --max-image-pixels to read it";
  return truncation_problem(bytes);
}

ImageU8 read_image_rgb(const std::string& path, const ReadOptions& options, std::vector<ReadWarning>* warnings) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ImageReadError(path, "no such file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ImageReadError(path, "cannot open the file (permissions?)");
  std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (const std::string p = image_header_problem(bytes, options.max_pixels); !p.empty()) throw ImageReadError(path, p);
  if (is_png_data(bytes) || is_jpeg_data(bytes)) {
    ImageU8 image = decode_with_codec(path, bytes, options, warnings);
    if (std::int64_t(image.width) * image.height > options.max_pixels)
      throw ImageReadError(path, "image is above max_image_pixels; raise --max-image-pixels to read it");
    return image;
  }

  int flags = cv::IMREAD_COLOR;
  if (!options.apply_exif) flags |= cv::IMREAD_IGNORE_ORIENTATION;
  cv::Mat bgr;
  try {
    bgr = cv::imdecode(cv::Mat(1, static_cast<int>(bytes.size()), CV_8UC1, bytes.data()), flags);
  } catch (const cv::Exception& e) {
    throw ImageReadError(path, std::string("decoder error: ") + e.what());
  }
  if (bgr.empty()) throw ImageReadError(path, "not a readable image (unknown format or corrupt data)");
  if (std::int64_t(bgr.cols) * bgr.rows > options.max_pixels)
    throw ImageReadError(path, "image is above max_image_pixels; raise --max-image-pixels to read it");
  ImageU8 out;
  out.width = bgr.cols;
  out.height = bgr.rows;
  out.rgb.resize(size_t(out.width) * out.height * 3);
  cv::Mat rgb(out.height, out.width, CV_8UC3, out.rgb.data());
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  return out;
}

void write_image_rgb(const std::string& path, const ImageU8& image) {
  cv::Mat rgb(image.height, image.width, CV_8UC3, const_cast<std::uint8_t*>(image.rgb.data()));
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  bool ok = false;
  try {
    ok = cv::imwrite(path, bgr);
  } catch (const cv::Exception& e) {
    throw OutputError(path, e.what());
  }
  if (!ok) throw OutputError(path, "OpenCV could not encode or write the file");
}


}  // namespace sam2amg
