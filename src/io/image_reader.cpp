#include "io/image_reader.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/error.h"
#include "io/bounded_read.h"
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

namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }
std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }
std::uint64_t le64(const std::uint8_t* p) { return le32(p) | (std::uint64_t{le32(p + 4)} << 32); }
std::uint64_t be64(const std::uint8_t* p) { return (std::uint64_t{be32(p)} << 32) | be32(p + 4); }

using Size = std::pair<std::int64_t, std::int64_t>;

// The first image's ImageWidth (256) and ImageLength (257) tags: what a TIFF decoder reads.
// Classic TIFF ("II*\0", "MM\0*") and BigTIFF ("II+\0", "MM\0+").
Size tiff_size(const std::vector<std::uint8_t>& b) {
  if (b.size() < 16) return {0, 0};
  const bool little = b[0] == 'I' && b[1] == 'I';
  if (!little && !(b[0] == 'M' && b[1] == 'M')) return {0, 0};
  auto u16 = [&](size_t at) -> std::uint64_t { return little ? le16(&b[at]) : be16(&b[at]); };
  auto u32 = [&](size_t at) -> std::uint64_t { return little ? le32(&b[at]) : be32(&b[at]); };
  auto u64 = [&](size_t at) -> std::uint64_t { return little ? le64(&b[at]) : be64(&b[at]); };
  const std::uint64_t version = u16(2);
  if (version != 42 && version != 43) return {0, 0};
  const bool big = version == 43;
  const std::uint64_t ifd = big ? u64(8) : u32(4);
  const size_t count_size = big ? 8 : 2, entry_size = big ? 20 : 12;
  if (ifd > b.size() || b.size() - ifd < count_size) return {0, 0};
  const std::uint64_t n = big ? u64(ifd) : u16(ifd);
  std::int64_t w = 0, h = 0;
  for (std::uint64_t k = 0; k < n; ++k) {
    const std::uint64_t at = ifd + count_size + k * entry_size;
    if (at > b.size() || b.size() - at < entry_size) break;
    const std::uint64_t tag = u16(at), type = u16(at + 2);
    const size_t value = at + (big ? 12 : 8);
    // SHORT, LONG or LONG8, stored in the entry itself.
    std::uint64_t v = 0;
    if (type == 3) v = u16(value);
    else if (type == 4) v = u32(value);
    else if (type == 16 && big) v = u64(value);
    else continue;
    const auto clamped = static_cast<std::int64_t>(std::min<std::uint64_t>(v, std::uint64_t{1} << 40));
    if (tag == 256) w = clamped;
    if (tag == 257) h = clamped;
  }
  return {w, h};
}

// RIFF "WEBP" with a VP8 (lossy), VP8L (lossless) or VP8X (extended: the canvas) first chunk.
Size webp_size(const std::vector<std::uint8_t>& b) {
  if (b.size() < 30 || std::memcmp(&b[0], "RIFF", 4) != 0 || std::memcmp(&b[8], "WEBP", 4) != 0) return {0, 0};
  const std::uint8_t* c = &b[12];
  if (std::memcmp(c, "VP8 ", 4) == 0 && b[23] == 0x9D && b[24] == 0x01 && b[25] == 0x2A)
    return {le16(&b[26]) & 0x3FFF, le16(&b[28]) & 0x3FFF};
  if (std::memcmp(c, "VP8L", 4) == 0 && b[20] == 0x2F) {
    const std::uint32_t bits = le32(&b[21]);
    return {(bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1};
  }
  if (std::memcmp(c, "VP8X", 4) == 0)
    return {(b[24] | (b[25] << 8) | (b[26] << 16)) + 1, (b[27] | (b[28] << 8) | (b[29] << 16)) + 1};
  return {0, 0};
}

// Netpbm: P1..P6 "P6 <w> <h> ..." (with # comments), P7 (PAM) "WIDTH w" / "HEIGHT h" lines.
Size pnm_size(const std::vector<std::uint8_t>& b) {
  if (b.size() < 3 || b[0] != 'P' || b[1] < '1' || b[1] > '7') return {0, 0};
  const size_t end = std::min<size_t>(b.size(), 4096);  // a header is short
  size_t i = 2;
  auto number = [&]() -> std::int64_t {
    for (;;) {  // whitespace and comments
      while (i < end && std::isspace(b[i])) ++i;
      if (i < end && b[i] == '#') {
        while (i < end && b[i] != '\n') ++i;
        continue;
      }
      break;
    }
    std::int64_t v = 0;
    size_t digits = 0;
    for (; i < end && b[i] >= '0' && b[i] <= '9' && digits < 12; ++i, ++digits) v = v * 10 + (b[i] - '0');
    return digits ? v : 0;
  };
  if (b[1] != '7') {
    const std::int64_t w = number();
    return {w, number()};
  }
  const std::string head(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(end));
  auto field = [&](const char* key) -> std::int64_t {
    const size_t at = head.find(std::string("\n") + key);
    if (at == std::string::npos) return 0;
    i = at + 1 + std::strlen(key);
    return number();
  };
  return {field("WIDTH"), field("HEIGHT")};
}

Size bmp_size(const std::vector<std::uint8_t>& b) {
  if (b.size() < 26 || b[0] != 'B' || b[1] != 'M') return {0, 0};
  if (le32(&b[14]) == 12) return {le16(&b[18]), le16(&b[20])};  // OS/2 BITMAPCOREHEADER
  const std::int32_t h = static_cast<std::int32_t>(le32(&b[22]));
  return {static_cast<std::int32_t>(le32(&b[18])), h < 0 ? -std::int64_t{h} : h};
}

}  // namespace

std::pair<std::int64_t, std::int64_t> probe_image_size(const std::vector<std::uint8_t>& b) {
  if (is_png_data(b) && b.size() >= 24) return {be32(&b[16]), be32(&b[20])};
  if (const Size s = bmp_size(b); s.first || s.second) return s;
  if (const Size s = tiff_size(b); s.first || s.second) return s;
  if (const Size s = webp_size(b); s.first || s.second) return s;
  if (const Size s = pnm_size(b); s.first || s.second) return s;
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
  // Every other format is decoded only when its header gave the size: a decoder allocates what
  // the header says before the limit could be applied.
  if (!is_png_data(bytes) && !is_jpeg_data(bytes) && (w <= 0 || h <= 0))
    return "not a readable image (no PNG, JPEG, BMP, TIFF, WebP or PPM/PGM/PNM header giving its size)";
  return truncation_problem(bytes);
}

std::uint64_t image_file_cap(std::int64_t max_pixels) {
  // 8 bytes a pixel (16-bit RGBA, uncompressed) and 64 MiB of metadata: no image within the
  // pixel limit needs more.
  const std::uint64_t pixels = static_cast<std::uint64_t>(std::max<std::int64_t>(max_pixels, 0));
  const std::uint64_t headroom = std::uint64_t{64} << 20;
  return pixels > (UINT64_MAX - headroom) / 8 ? UINT64_MAX : pixels * 8 + headroom;
}

ImageU8 read_image_rgb(const std::string& path, const ReadOptions& options, std::vector<ReadWarning>* warnings) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw ImageReadError(path, "no such file");
  // The size before the bytes: a huge (or sparse) file is refused without reading it.
  std::vector<std::uint8_t> bytes;
  const std::uint64_t cap = image_file_cap(options.max_pixels);
  if (const std::string why = read_bounded_file(path, cap, bytes); !why.empty())
    throw ImageReadError(path, why.find("above the limit") != std::string::npos
                                   ? why + " for max_image_pixels " + std::to_string(options.max_pixels) +
                                         "; raise --max-image-pixels to read it"
                                   : why);
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
