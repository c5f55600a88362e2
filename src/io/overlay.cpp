#include "io/overlay.h"

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>

#include "common/error.h"
#include "io/json_files.h"
#include "io/safe_files.h"

namespace sam2amg {

namespace {

constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Sizes from the short side: a 1-pixel outline and a small font on thumbnails, thicker lines
// and larger text on photos, so an overlay reads the same once scaled to a screen.
int line_width_for(int short_side) { return std::max(1, static_cast<int>(std::lround(short_side / 500.0))); }
double font_scale_for(int short_side) { return std::max(0.4, short_side / 700.0); }

std::string label_text(size_t i, const MaskRecord& r, const OverlayStyle& style) {
  const long long id = static_cast<long long>(i) + style.first_id;
  if (!style.scores) return std::to_string(id);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%lld %.2f/%.2f", id, r.predicted_iou, r.stability_score);
  return buf;
}

// The mask's pixels inside `roi` as an 8-bit image (255 inside).
cv::Mat mask_in_roi(const std::vector<std::uint8_t>& mask, int width, const cv::Rect& roi) {
  cv::Mat m(roi.height, roi.width, CV_8UC1);
  for (int y = 0; y < roi.height; ++y) {
    const std::uint8_t* src = mask.data() + size_t(roi.y + y) * width + roi.x;
    std::uint8_t* dst = m.ptr<std::uint8_t>(y);
    for (int x = 0; x < roi.width; ++x) dst[x] = src[x] ? 255 : 0;
  }
  return m;
}

// The bounding box of the mask's pixels (empty for an empty mask).
cv::Rect mask_bounds(const std::vector<std::uint8_t>& mask, int width, int height) {
  int x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (int y = 0; y < height; ++y) {
    const std::uint8_t* row = mask.data() + size_t(y) * width;
    for (int x = 0; x < width; ++x) {
      if (!row[x]) continue;
      x0 = std::min(x0, x);
      x1 = std::max(x1, x);
      y0 = std::min(y0, y);
      y1 = std::max(y1, y);
    }
  }
  return x1 < 0 ? cv::Rect() : cv::Rect(x0, y0, x1 - x0 + 1, y1 - y0 + 1);
}

// The mask's value at pixel (x, y), read from its runs (column-major, starting with zeros).
bool rle_at(const Rle& rle, int x, int y) {
  const std::uint64_t at = std::uint64_t(x) * rle.h + y;
  std::uint64_t start = 0;
  for (size_t i = 0; i < rle.counts.size(); ++i) {
    start += rle.counts[i];
    if (at < start) return i % 2 == 1;
  }
  return false;
}

}  // namespace

std::array<std::uint8_t, 3> overlay_colour(size_t i) {
  // Hues a golden-ratio step apart never repeat and neighbours differ; saturated and bright so
  // that fills and outlines stand out on photos.
  const double h = std::fmod(static_cast<double>(i) * 0.618033988749895, 1.0) * 6.0;
  const double s = 0.85, v = 0.95;
  const int sector = static_cast<int>(h) % 6;
  const double f = h - std::floor(h);
  const double p = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  double r = v, g = t, b = p;
  switch (sector) {
    case 0: r = v, g = t, b = p; break;
    case 1: r = q, g = v, b = p; break;
    case 2: r = p, g = v, b = t; break;
    case 3: r = p, g = q, b = v; break;
    case 4: r = t, g = p, b = v; break;
    default: r = v, g = p, b = q; break;
  }
  auto byte = [](double c) { return static_cast<std::uint8_t>(std::lround(c * 255)); };
  return {byte(r), byte(g), byte(b)};
}

Overlay render_overlay(const ImageU8& image, const std::vector<MaskRecord>& records, const OverlayStyle& style) {
  Overlay o;
  o.image = image;
  const int w = image.width, h = image.height;
  const int short_side = std::min(w, h);
  o.line_width = line_width_for(short_side);
  o.font_scale = font_scale_for(short_side);
  cv::Mat out(h, w, CV_8UC3, o.image.rgb.data());  // RGB, drawn in place

  // Largest masks first, so smaller ones (filled later) stay visible; labels in the same order,
  // so a small mask's label is not hidden under a large one's.
  std::vector<size_t> order(records.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return records[a].area > records[b].area; });
  // One mask decoded at a time (memory stays at one image's worth): fill it, and keep its
  // outline pixels and label position for the passes below.
  std::vector<cv::Rect> bounds(records.size());
  std::vector<std::vector<cv::Point>> outlines(records.size());
  std::vector<std::vector<cv::Point>> label_at(records.size());  // one per connected part
  for (size_t k : order) {
    if (records[k].segmentation.h != h || records[k].segmentation.w != w)
      throw OutputError("overlay", "a mask's size differs from its image's");
    const std::vector<std::uint8_t> mask = rle_to_mask(records[k].segmentation);
    const cv::Rect roi = bounds[k] = mask_bounds(mask, w, h);
    if (roi.empty()) continue;
    const auto c = overlay_colour(k);
    for (int y = roi.y; y < roi.y + roi.height; ++y) {
      cv::Vec3b* row = out.ptr<cv::Vec3b>(y);
      const std::uint8_t* m = mask.data() + size_t(y) * w;
      for (int x = roi.x; x < roi.x + roi.width; ++x)
        if (m[x])
          for (int ch = 0; ch < 3; ++ch) row[x][ch] = static_cast<std::uint8_t>((row[x][ch] + c[ch]) / 2);
    }
    // The outline: the mask pixels within line_width of its outside (the image's edge counts as
    // outside), so it never covers a neighbour's pixels.
    cv::Mat m;
    cv::copyMakeBorder(mask_in_roi(mask, w, roi), m, 1, 1, 1, 1, cv::BORDER_CONSTANT, cv::Scalar(0));
    cv::Mat inner;
    cv::erode(m, inner, cv::Mat(), cv::Point(-1, -1), o.line_width, cv::BORDER_CONSTANT, cv::Scalar(0));
    for (int y = 0; y < roi.height; ++y) {
      const std::uint8_t* mr = m.ptr<std::uint8_t>(y + 1) + 1;
      const std::uint8_t* ir = inner.ptr<std::uint8_t>(y + 1) + 1;
      for (int x = 0; x < roi.width; ++x)
        if (mr[x] && !ir[x]) outlines[k].emplace_back(roi.x + x, roi.y + y);
    }
    // A label on each part, where the part is thickest: its pixel farthest from the outside.
    cv::Mat dist, parts;
    cv::distanceTransform(m, dist, cv::DIST_L2, 3);
    const int n_parts = cv::connectedComponents(m, parts, 8, CV_32S);
    std::vector<float> best_dist(static_cast<size_t>(std::max(n_parts, 1)), -1.0f);
    std::vector<cv::Point> best(best_dist.size());
    for (int y = 0; y < m.rows; ++y)
      for (int x = 0; x < m.cols; ++x) {
        const int part = parts.at<int>(y, x);
        if (part > 0 && dist.at<float>(y, x) > best_dist[size_t(part)]) {
          best_dist[size_t(part)] = dist.at<float>(y, x);
          best[size_t(part)] = {x, y};
        }
      }
    for (int part = 1; part < n_parts; ++part)
      label_at[k].emplace_back(roi.x + best[size_t(part)].x - 1, roi.y + best[size_t(part)].y - 1);
  }

  // Outlines over every fill.
  for (size_t k : order) {
    const auto c = overlay_colour(k);
    for (const cv::Point& p : outlines[k]) out.at<cv::Vec3b>(p) = cv::Vec3b(c[0], c[1], c[2]);
  }

  // Labels last, white on a dark edge: readable on any fill.
  const int thickness = std::max(1, static_cast<int>(std::lround(o.font_scale * 1.8)));
  const int edge = thickness + 2 * std::max(1, static_cast<int>(std::lround(o.font_scale)));
  std::vector<cv::Rect> placed;
  for (size_t k : order) {
    if (bounds[k].empty()) continue;
    const std::string text = label_text(k, records[k], style);
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, kFont, o.font_scale, edge, &baseline);
    // Strokes reach about edge/2 beyond getTextSize's box (anti-aliasing a little more): a
    // margin of `edge` on every side holds them.
    const int box_w = size.width + 2 * edge, box_h = size.height + baseline + 2 * edge;
    // Centred on the chosen pixel and moved inside the image; where that covers a label already
    // drawn, the first free place a few label sizes away that is still on the mask.
    auto box_at = [&](cv::Point p) {
      return cv::Rect(std::clamp(p.x - box_w / 2, 0, std::max(0, w - box_w)),
                      std::clamp(p.y - box_h / 2, 0, std::max(0, h - box_h)), box_w, box_h);
    };
    auto free = [&](const cv::Rect& r) {
      return std::none_of(placed.begin(), placed.end(), [&](const cv::Rect& q) { return (r & q).area() > 0; });
    };
    for (const cv::Point& at : label_at[k]) {  // the same label on each part
      cv::Rect box = box_at(at);
      for (int step = 1; step <= 3 && !free(box); ++step)
        for (const cv::Point d : {cv::Point(0, box_h), cv::Point(0, -box_h), cv::Point(box_w, 0), cv::Point(-box_w, 0)}) {
          const cv::Point p = at + d * step;
          if (p.x < 0 || p.y < 0 || p.x >= w || p.y >= h || !rle_at(records[k].segmentation, p.x, p.y)) continue;
          if (free(box_at(p))) {
            box = box_at(p);
            break;
          }
        }
      placed.push_back(box);
      const int x0 = box.x, y0 = box.y;
      const cv::Point origin(x0 + edge, y0 + edge + size.height);
      cv::putText(out, text, origin, kFont, o.font_scale, cv::Scalar(20, 20, 20), edge, cv::LINE_AA);
      cv::putText(out, text, origin, kFont, o.font_scale, cv::Scalar(255, 255, 255), thickness, cv::LINE_AA);
      o.labels.push_back({k, text, x0, y0, std::min(w, x0 + box_w), std::min(h, y0 + box_h)});
    }
  }
  return o;
}

void write_overlay(const std::string& path, const ImageU8& image, const std::vector<MaskRecord>& records,
                   const OverlayStyle& style) {
  Overlay o = render_overlay(image, records, style);
  cv::Mat rgb(o.image.height, o.image.width, CV_8UC3, o.image.rgb.data());
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  const std::string ext = std::filesystem::path(path).extension().string();
  std::vector<std::uint8_t> buf;
  const std::vector<int> params =
      ext == ".png" ? std::vector<int>{cv::IMWRITE_PNG_COMPRESSION, 3} : std::vector<int>{cv::IMWRITE_JPEG_QUALITY, 92};
  if (!cv::imencode(ext.empty() ? ".png" : ext, bgr, buf, params)) throw OutputError(path, "image encoding failed");
  write_file_atomically(path, std::string(buf.begin(), buf.end()));
}

std::map<std::string, std::string> overlay_paths(const std::string& dir, const std::vector<InputFile>& inputs,
                                                 const std::string& suffix) {
  std::map<std::string, std::string> paths;
  for (const auto& [input, stem] : output_stems(inputs)) paths[input] = path_inside(dir, stem + suffix);
  return paths;
}

namespace {

class OverlayWriter : public MaskWriter {
 public:
  OverlayWriter(std::string dir, const std::vector<InputFile>& inputs, const OverlayStyle& style)
      : dir_(std::move(dir)), paths_(overlay_paths(dir_, inputs)), style_(style) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec) throw OutputError(dir_, ec.message());
  }

  bool done(const InputFile& input) const override {
    std::error_code ec;
    return std::filesystem::exists(paths_.at(input.path), ec);
  }

  void write(const ImageInfo& info, const ImageU8& image, const std::vector<MaskRecord>& records) override {
    const std::string& path = paths_.at(info.input.path);
    make_folders_inside(dir_, std::filesystem::path(path).parent_path().string());  // never through a link
    write_overlay(path, image, records, style_);
  }

  void finish(bool) override {}

 private:
  std::string dir_;
  std::map<std::string, std::string> paths_;
  OverlayStyle style_;
};

}  // namespace

std::unique_ptr<MaskWriter> make_overlay_writer(const std::string& dir, const std::vector<InputFile>& inputs,
                                                const OverlayStyle& style) {
  return std::make_unique<OverlayWriter>(dir, inputs, style);
}

}  // namespace sam2amg
