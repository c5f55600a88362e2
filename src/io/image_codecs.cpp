#include "io/image_codecs.h"

// clang-format off
#include <cstdio>  // jpeglib.h needs FILE
#include <jpeglib.h>
#include <jerror.h>
// clang-format on
#include <png.h>

#include <csetjmp>
#include <cstring>

#include "common/error.h"

namespace sam2amg {

// Both libraries report fatal errors by a callback that must not return: ours longjmp back to
// the decode function. Those functions hold nothing with a destructor (C++ forbids jumping over
// one); buffers live in the caller's state struct.

namespace {

constexpr size_t kMaxMessages = 8;  // a damaged scan can warn once per block

void record(CodecReport& report, bool damage, const char* codec, const char* message) {
  std::vector<std::string>& list = damage ? report.damage : report.notes;
  if (list.size() < kMaxMessages) list.push_back(std::string(codec) + ": " + message);
}

// ---- JPEG

struct JpegState {
  jpeg_error_mgr mgr;  // first: libjpeg hands our callbacks &mgr as cinfo->err
  std::jmp_buf jump;
  CodecReport* report = nullptr;
  bool stop_at_damage = false;
  char fatal[JMSG_LENGTH_MAX] = {};
  std::vector<std::uint8_t> cmyk_row;
};

JpegState& jpeg_state(j_common_ptr cinfo) { return *reinterpret_cast<JpegState*>(cinfo->err); }

[[noreturn]] void jpeg_on_error(j_common_ptr cinfo) {
  JpegState& s = jpeg_state(cinfo);
  (*cinfo->err->format_message)(cinfo, s.fatal);
  std::longjmp(s.jump, 1);
}

// Warnings about metadata the decoder does not use; every other warning means damaged pixels.
bool jpeg_metadata_warning(int code) {
  return code == JWRN_JFIF_MAJOR || code == JWRN_ADOBE_XFORM || code == JWRN_BOGUS_ICC;
}

void jpeg_on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;  // trace messages
  JpegState& s = jpeg_state(cinfo);
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  const bool damage = !jpeg_metadata_warning(cinfo->err->msg_code);
  record(*s.report, damage, "libjpeg", text);
  ++cinfo->err->num_warnings;
  if (damage && s.stop_at_damage) std::longjmp(s.jump, 2);
}

void jpeg_no_output(j_common_ptr) {}  // libjpeg's default prints to stderr

// OpenCV's icvCvt_CMYK2BGR_8u_C4C3R (libjpeg returns Adobe's inverted CMYK), written as RGB.
void cmyk_to_rgb(const std::uint8_t* cmyk, std::uint8_t* rgb, size_t width) {
  for (size_t x = 0; x < width; ++x, cmyk += 4, rgb += 3) {
    const int k = cmyk[3];
    for (int c = 0; c < 3; ++c) rgb[c] = static_cast<std::uint8_t>(k - ((255 - cmyk[c]) * k >> 8));
  }
}

bool decode_jpeg(const std::vector<std::uint8_t>& bytes, JpegState& s, ImageU8& out) {
  jpeg_decompress_struct cinfo;
  cinfo.err = jpeg_std_error(&s.mgr);
  s.mgr.error_exit = jpeg_on_error;
  s.mgr.emit_message = jpeg_on_message;
  s.mgr.output_message = jpeg_no_output;
  jpeg_create_decompress(&cinfo);
  if (setjmp(s.jump)) {
    jpeg_destroy_decompress(&cinfo);
    return false;
  }
  jpeg_mem_src(&cinfo, bytes.data(), static_cast<unsigned long>(bytes.size()));
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m; m = m->next)
    if (m->marker == JPEG_APP0 + 1 && m->data_length > 6 && std::memcmp(m->data, "Exif\0\0", 6) == 0) {
      s.report->exif_orientation = exif_orientation(m->data + 6, m->data_length - 6);
      break;
    }
  const bool cmyk = cinfo.num_components == 4;
  cinfo.out_color_space = cmyk ? JCS_CMYK : JCS_EXT_RGB;
  jpeg_start_decompress(&cinfo);
  out.width = static_cast<int>(cinfo.output_width);
  out.height = static_cast<int>(cinfo.output_height);
  out.rgb.resize(size_t(out.width) * out.height * 3);
  if (cmyk) s.cmyk_row.resize(size_t(out.width) * 4);
  while (cinfo.output_scanline < cinfo.output_height) {
    std::uint8_t* dst = out.rgb.data() + size_t(cinfo.output_scanline) * out.width * 3;
    JSAMPROW row = cmyk ? s.cmyk_row.data() : dst;
    if (jpeg_read_scanlines(&cinfo, &row, 1) != 1) break;
    if (cmyk) cmyk_to_rgb(s.cmyk_row.data(), dst, out.width);
  }
  jpeg_finish_decompress(&cinfo);  // reads on to the end-of-image marker: data after the scan warns
  jpeg_destroy_decompress(&cinfo);
  return true;
}

// ---- PNG

struct PngState {
  std::jmp_buf jump;
  CodecReport* report = nullptr;
  bool stop_at_damage = false;
  char fatal[256] = {};
  const std::uint8_t* data = nullptr;
  size_t size = 0, pos = 0;
  std::vector<png_bytep> rows;
};

[[noreturn]] void png_on_error(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->fatal, sizeof s->fatal, "%s", message);
  std::longjmp(s->jump, 1);
}

// libpng prefixes a chunk's messages with its name; a lower-case first letter is an ancillary
// chunk (iCCP, gAMA, tEXt, ...), metadata our decoding ignores.
bool png_ancillary_chunk_message(const char* m) {
  for (int i = 0; i < 4; ++i)
    if (!((m[i] >= 'a' && m[i] <= 'z') || (m[i] >= 'A' && m[i] <= 'Z'))) return false;
  return m[4] == ':' && m[0] >= 'a' && m[0] <= 'z';
}

void png_on_warning(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  const bool damage = !png_ancillary_chunk_message(message);
  record(*s->report, damage, "libpng", message);
  if (damage && s->stop_at_damage) std::longjmp(s->jump, 2);
}

void png_read_memory(png_structp png, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->size - s->pos) png_error(png, "unexpected end of file");
  std::memcpy(out, s->data + s->pos, n);
  s->pos += n;
}

// The transformations of OpenCV's PngDecoder for IMREAD_COLOR, giving RGB instead of BGR.
bool decode_png(PngState& s, ImageU8& out) {
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
  if (!png) return false;
  png_infop info = png_create_info_struct(png);
  if (setjmp(s.jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return false;
  }
  if (!info) png_error(png, "out of memory");
  png_set_read_fn(png, &s, png_read_memory);
  png_read_info(png, info);
  png_uint_32 exif_size = 0;
  png_bytep exif = nullptr;
  if (png_get_eXIf_1(png, info, &exif_size, &exif) && exif)
    s.report->exif_orientation = exif_orientation(exif, exif_size);
  const int color_type = png_get_color_type(png, info), bit_depth = png_get_bit_depth(png, info);
  if (bit_depth > 8) png_set_strip_16(png);
  png_set_strip_alpha(png);
  if (color_type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0 && bit_depth < 8) png_set_expand_gray_1_2_4_to_8(png);
  if ((color_type & PNG_COLOR_MASK_COLOR) == 0) png_set_gray_to_rgb(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  out.width = static_cast<int>(png_get_image_width(png, info));
  out.height = static_cast<int>(png_get_image_height(png, info));
  if (png_get_rowbytes(png, info) != size_t(out.width) * 3) png_error(png, "unexpected row size after conversion");
  out.rgb.resize(size_t(out.width) * out.height * 3);
  s.rows.resize(out.height);
  for (int y = 0; y < out.height; ++y) s.rows[y] = out.rgb.data() + size_t(y) * out.width * 3;
  png_read_image(png, s.rows.data());
  png_read_end(png, info);  // the chunks after the image data, and their checksums
  png_destroy_read_struct(&png, &info, nullptr);
  return true;
}

}  // namespace

bool is_png_data(const std::vector<std::uint8_t>& b) {
  return b.size() >= 8 && b[0] == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G';
}

bool is_jpeg_data(const std::vector<std::uint8_t>& b) { return b.size() >= 3 && b[0] == 0xFF && b[1] == 0xD8; }

int exif_orientation(const std::uint8_t* t, std::size_t n) {
  if (n < 8) return 1;
  const bool le = t[0] == 'I' && t[1] == 'I';
  if (!le && !(t[0] == 'M' && t[1] == 'M')) return 1;
  auto u16 = [&](size_t o) -> std::uint32_t { return le ? t[o] | (t[o + 1] << 8) : (t[o] << 8) | t[o + 1]; };
  auto u32 = [&](size_t o) -> std::uint32_t { return le ? u16(o) | (u16(o + 2) << 16) : (u16(o) << 16) | u16(o + 2); };
  if (u16(2) != 42) return 1;
  const size_t ifd = u32(4);
  if (ifd > n || n - ifd < 2) return 1;
  const size_t entries = u16(ifd);
  for (size_t i = 0; i < entries; ++i) {
    const size_t e = ifd + 2 + 12 * i;
    if (e + 12 > n) break;
    if (u16(e) != 0x0112) continue;
    const std::uint32_t v = u16(e + 8);
    return v >= 1 && v <= 8 ? static_cast<int>(v) : 1;
  }
  return 1;
}

ImageU8 decode_png_jpeg_rgb(const std::vector<std::uint8_t>& bytes, const std::string& path, bool stop_at_damage,
                            CodecReport& report) {
  ImageU8 out;
  bool ok = false;
  std::string fatal;
  if (is_jpeg_data(bytes)) {
    JpegState s;
    s.report = &report;
    s.stop_at_damage = stop_at_damage;
    ok = decode_jpeg(bytes, s, out);
    fatal = std::string("libjpeg: ") + s.fatal;
  } else {
    PngState s;
    s.report = &report;
    s.stop_at_damage = stop_at_damage;
    s.data = bytes.data();
    s.size = bytes.size();
    ok = decode_png(s, out);
    fatal = std::string("libpng: ") + (s.fatal[0] ? s.fatal : "cannot decode");
  }
  if (ok) return out;
  if (stop_at_damage && !report.damage.empty()) return ImageU8{};
  throw ImageReadError(path, "not a readable image (" + fatal + ")");
}

}  // namespace sam2amg
