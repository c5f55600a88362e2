// Overlays: fills, outlines and ids of known masks, at small and large image sizes.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>

#include "io/overlay.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

const Rgb kGrey{100, 100, 100};

MaskRecord record_of(const Rle& rle, float iou, float stability) {
  MaskRecord r;
  r.segmentation = rle;
  r.area = area_from_rle(rle);
  r.predicted_iou = iou;
  r.stability_score = stability;
  return r;
}

Rgb pixel(const ImageU8& im, int x, int y) {
  const size_t i = (size_t(y) * im.width + x) * 3;
  return {im.rgb[i], im.rgb[i + 1], im.rgb[i + 2]};
}

bool in_label(const Overlay& o, int x, int y) {
  for (const OverlayLabel& l : o.labels)
    if (x >= l.x0 && x < l.x1 && y >= l.y0 && y < l.y1) return true;
  return false;
}

bool inside_image(const OverlayLabel& l, const ImageU8& im) {
  return l.x0 >= 0 && l.y0 >= 0 && l.x1 <= im.width && l.y1 <= im.height && l.x0 < l.x1 && l.y0 < l.y1;
}

}  // namespace

TEST_CASE("Overlay of a known mask: blended fill, outline on its border, id inside the image", "[io][overlay]") {
  // A red 60x40 rectangle in the top-left corner: its label, centred on the rectangle, must be
  // moved inside the image; the grey rest is no mask.
  const Rect rect{0, 0, 60, 40, kRed};
  const ImageU8 image = make_image(200, 150, kGrey, {rect});
  const Overlay o = render_overlay(image, {record_of(colour_mask(image, kRed), 0.91f, 0.97f)});
  REQUIRE(o.line_width == 1);
  const auto c = overlay_colour(0);
  REQUIRE(o.labels.size() == 1);
  const OverlayLabel& label = o.labels[0];
  CHECK(label.text == "1");  // the `id` its annotation carries
  CHECK(inside_image(label, image));
  // The label overlaps its mask, and its text is drawn (white pixels).
  CHECK(label.x0 < rect.x1);
  CHECK(label.y0 < rect.y1);
  bool white = false;
  for (int y = label.y0; y < label.y1; ++y)
    for (int x = label.x0; x < label.x1; ++x) {
      const Rgb p = pixel(o.image, x, y);
      white = white || (p[0] > 200 && p[1] > 200 && p[2] > 200);
    }
  CHECK(white);

  int border = 0, fill = 0, outside = 0;
  for (int y = 0; y < image.height; ++y)
    for (int x = 0; x < image.width; ++x) {
      if (in_label(o, x, y)) continue;
      const Rgb before = pixel(image, x, y), after = pixel(o.image, x, y);
      const bool in_mask = x >= rect.x0 && x < rect.x1 && y >= rect.y0 && y < rect.y1;
      const bool on_border = in_mask && (x == rect.x0 || x == rect.x1 - 1 || y == rect.y0 || y == rect.y1 - 1);
      if (on_border) {
        // The outline: the mask's border pixels, in the mask's colour.
        CHECK(after == Rgb{c[0], c[1], c[2]});
        ++border;
      } else if (in_mask) {
        // The fill: (pixel + colour) / 2.
        CHECK(after == Rgb{std::uint8_t((before[0] + c[0]) / 2), std::uint8_t((before[1] + c[1]) / 2),
                           std::uint8_t((before[2] + c[2]) / 2)});
        ++fill;
      } else {
        CHECK(after == before);  // nothing drawn outside the mask but its label
        ++outside;
      }
    }
  CHECK(border > 100);
  CHECK(fill > 1000);
  CHECK(outside > 20000);
}

TEST_CASE("Overlay ids: one per mask, scores on request, always inside the image", "[io][overlay]") {
  // Masks in the corners: every label is pushed inside the image.
  const ImageU8 image = make_image(120, 90, kBlack,
                                   {{0, 0, 10, 8, kRed}, {110, 82, 120, 90, kGreen}, {112, 0, 120, 6, kBlue},
                                    {40, 30, 80, 60, kWhite}});
  const std::vector<MaskRecord> records{record_of(colour_mask(image, kRed), 0.9f, 0.95f),
                                        record_of(colour_mask(image, kGreen), 0.876f, 1.0f),
                                        record_of(colour_mask(image, kBlue), 0.5f, 0.5f),
                                        record_of(colour_mask(image, kWhite), 0.99f, 0.981f)};
  const Overlay plain = render_overlay(image, records);
  const Overlay scored = render_overlay(image, records, OverlayStyle{true});
  REQUIRE(plain.labels.size() == 4);
  REQUIRE(scored.labels.size() == 4);
  for (const OverlayLabel& l : scored.labels) {
    CHECK(inside_image(l, image));
    if (l.mask == 1) CHECK(l.text == "2 0.88/1.00");
    if (l.mask == 3) CHECK(l.text == "4 0.99/0.98");
  }
  for (const OverlayLabel& l : plain.labels) {
    CHECK(inside_image(l, image));
    CHECK(l.text == std::to_string(l.mask + 1));
  }
  // Distinct colours for the masks.
  CHECK(overlay_colour(0) != overlay_colour(1));
  CHECK(overlay_colour(1) != overlay_colour(2));
  CHECK(overlay_colour(0) != overlay_colour(3));
}

TEST_CASE("Overlay lines and text scale with the image size", "[io][overlay]") {
  auto label_height_share = [](int w, int h) {
    const ImageU8 image = make_image(w, h, kBlack, {{w / 4, h / 4, w / 2, h / 2, kRed}});
    const Overlay o = render_overlay(image, {record_of(colour_mask(image, kRed), 0.9f, 0.9f)});
    REQUIRE(o.labels.size() == 1);
    return std::pair{o.line_width, double(o.labels[0].y1 - o.labels[0].y0) / std::min(w, h)};
  };
  const auto [small_line, small_text] = label_height_share(260, 195);
  const auto [large_line, large_text] = label_height_share(2048, 1536);
  CHECK(small_line == 1);
  CHECK(large_line >= 3);
  // A label is a few percent of the short side at both sizes: legible on a thumbnail, not
  // lost on a photo.
  CHECK(small_text > 0.02);
  CHECK(small_text < 0.15);
  CHECK(large_text > 0.02);
  CHECK(large_text < 0.15);
}

TEST_CASE("write_overlay: PNG by extension, the rendered pixels exactly", "[io][overlay]") {
  TempDir dir;
  const ImageU8 image = make_image(64, 48, kBlack, {{8, 8, 40, 30, kGreen}});
  const std::vector<MaskRecord> records{record_of(colour_mask(image, kGreen), 0.9f, 0.9f)};
  write_overlay(dir.file("o.png"), image, records);
  const cv::Mat bgr = cv::imread(dir.file("o.png"), cv::IMREAD_COLOR);
  REQUIRE(bgr.cols == 64);
  REQUIRE(bgr.rows == 48);
  const Overlay o = render_overlay(image, records);
  int differ = 0;
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 64; ++x) {
      const cv::Vec3b p = bgr.at<cv::Vec3b>(y, x);
      const Rgb q = pixel(o.image, x, y);
      differ += p[2] != q[0] || p[1] != q[1] || p[0] != q[2];
    }
  CHECK(differ == 0);
}

TEST_CASE("Overlay labels of masks that share their thickest point do not cover each other", "[io][overlay]") {
  // Two identical masks and one inside them: the same best label position for the first two.
  const ImageU8 image = make_image(300, 200, kBlack, {{20, 20, 280, 180, kRed}, {40, 40, 80, 70, kGreen}});
  Rle both = colour_mask(image, kRed);
  const std::vector<MaskRecord> records{record_of(both, 0.9f, 0.9f), record_of(both, 0.8f, 0.8f),
                                        record_of(colour_mask(image, kGreen), 0.7f, 0.7f)};
  const Overlay o = render_overlay(image, records);
  REQUIRE(o.labels.size() == 3);
  for (size_t i = 0; i < o.labels.size(); ++i) {
    const OverlayLabel& a = o.labels[i];
    CHECK(inside_image(a, image));
    for (size_t j = i + 1; j < o.labels.size(); ++j) {
      const OverlayLabel& b = o.labels[j];
      INFO(a.text << " and " << b.text);
      CHECK((a.x1 <= b.x0 || b.x1 <= a.x0 || a.y1 <= b.y0 || b.y1 <= a.y0));
    }
  }
  // The moved label still sits on its mask (the red rectangle).
  for (const OverlayLabel& l : o.labels) {
    const int cx = (l.x0 + l.x1) / 2, cy = (l.y0 + l.y1) / 2;
    CHECK((cx >= 20 && cx < 280 && cy >= 20 && cy < 180));
  }
}
