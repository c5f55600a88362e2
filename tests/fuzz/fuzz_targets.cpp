#include "fuzz_targets.h"

#include <algorithm>
#include <array>
#include <string>

#include "amg/rle_host.h"
#include "common/error.h"
#include "io/image_reader.h"
#include "io/point_grids_file.h"
#include "io/run_config.h"

namespace sam2amg::fuzz {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw PropertyViolation(what);
}

// Masks up to this many pixels are decoded to check the area and box against the pixels.
constexpr std::int64_t kMaxMaskPixels = std::int64_t{1} << 20;

// Runs a config through validation and, when valid, the --print-config round trip.
void check_config(const RunConfig& config) {
  config.amg.validate();
  validate_io(config.io);
  const std::string printed = to_yaml(config);
  RunConfig back;
  load_yaml_config_text(printed, "printed.yaml", back);
  require(to_yaml(back) == printed, "the printed config does not load back to itself:\n" + printed);
}

}  // namespace

void rle_codec(const std::uint8_t* data, std::size_t size) {
  if (size < 4) return;
  const int h = (data[0] << 8) | data[1], w = (data[2] << 8) | data[3];
  const std::string counts(reinterpret_cast<const char*>(data) + 4, size - 4);
  Rle rle;
  try {
    rle = rle_from_string(counts, h, w);
  } catch (const std::invalid_argument&) {
    return;  // the codec's documented refusal
  }
  std::int64_t total = 0;
  for (std::uint32_t c : rle.counts) total += c;
  require(total == std::int64_t{h} * w, "decoded runs do not sum to h*w");
  require(rle_from_string(rle_to_string(rle), h, w) == rle, "re-encoding does not decode to the same runs");
  if (std::int64_t{h} * w > kMaxMaskPixels) return;
  const std::vector<std::uint8_t> mask = rle_to_mask(rle);
  const std::int64_t area = std::count(mask.begin(), mask.end(), std::uint8_t{1});
  require(area == area_from_rle(rle), "area_from_rle disagrees with the decoded mask");
  // Canonical runs (no empty run after the first) re-encode from the mask unchanged, and their
  // box is the mask's: pycocotools' toBbox is only meaningful on those.
  const bool canonical = std::find(rle.counts.begin() + std::min<std::size_t>(1, rle.counts.size()), rle.counts.end(),
                                   0u) == rle.counts.end();
  if (!canonical) return;
  const Rle again = rle_from_mask(mask.data(), h, w);
  require(again.counts == (rle.counts.empty() ? std::vector<std::uint32_t>{0} : rle.counts),
          "the mask does not re-encode to the same runs");
  int x0 = w, y0 = h, x1 = -1, y1 = -1;
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      if (mask[static_cast<std::size_t>(y) * w + x]) {
        x0 = std::min(x0, x), y0 = std::min(y0, y), x1 = std::max(x1, x), y1 = std::max(y1, y);
      }
  const std::array<double, 4> expected =
      area ? std::array<double, 4>{double(x0), double(y0), double(x1 - x0 + 1), double(y1 - y0 + 1)}
           : std::array<double, 4>{0, 0, 0, 0};
  require(rle_to_coco_bbox(rle) == expected, "rle_to_coco_bbox disagrees with the decoded mask");
}

void config_yaml(const std::uint8_t* data, std::size_t size) {
  RunConfig config;
  try {
    load_yaml_config_text(std::string(reinterpret_cast<const char*>(data), size), "fuzz.yaml", config);
    check_config(config);
  } catch (const Error&) {
  }
}

void point_grids_file(const std::uint8_t* data, std::size_t size) {
  RunConfig config;
  try {
    config.amg.point_grids = parse_point_grids(std::string(reinterpret_cast<const char*>(data), size), "grids.json");
    config.amg.points_per_side.reset();
    config.amg.crop_n_layers = std::max(0, std::min(6, static_cast<int>(config.amg.point_grids.size()) - 1));
    check_config(config);
  } catch (const Error&) {
  }
}

void image_header(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  const std::int64_t max_pixels = std::int64_t{1} << 28;
  const std::string problem = image_header_problem(bytes, max_pixels);
  require(!bytes.empty() || problem == "empty file", "an empty file passes the header checks");
  const auto [w, h] = probe_image_size(bytes);
  if (problem.empty() && w > 0 && h > 0)
    require(w <= max_pixels / h, "an image above max_pixels by its header passes the header checks");
}

const std::vector<Target>& targets() {
  static const std::vector<Target> all = {{"rle_codec", rle_codec},
                                          {"config_yaml", config_yaml},
                                          {"point_grids_file", point_grids_file},
                                          {"image_header", image_header}};
  return all;
}

}  // namespace sam2amg::fuzz
