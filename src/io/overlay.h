#pragma once
/// Pictures of the masks over their image, for a person checking labels (--overlay-dir,
/// --overlay, tune --overlay-dir): each mask filled in a colour of its own, outlined, and
/// labelled with its id (and, optionally, its scores).
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "amg/mask_record.h"
#include "common/image.h"
#include "io/inputs.h"
#include "io/writers.h"

namespace sam2amg {

/// What an overlay shows besides fills, outlines and ids.
struct OverlayStyle {
  bool scores = false;  ///< append "predicted_iou/stability_score" (two decimals) to each id
  /// The id of the image's first mask: 1, the `id` of the SA-1B and JSON-lines annotations (and
  /// the mask's position among its image's COCO annotations); 0 beside --out-dir's mask folders,
  /// whose `<i>.png` and metadata.csv ids count from 0.
  int first_id = 1;
};

/// Where one mask's label went, in image pixels: [x0, x1) x [y0, y1), inside the image.
struct OverlayLabel {
  size_t mask = 0;  ///< index into the records
  std::string text;
  int x0 = 0, y0 = 0, x1 = 0, y1 = 0;
};

/// A rendered overlay (one label per connected part of each mask), with what was drawn where (for tests and for anyone placing more marks).
struct Overlay {
  ImageU8 image;
  int line_width = 1;     ///< outline thickness in pixels, from the image size
  double font_scale = 0;  ///< Hershey simplex scale, from the image size
  std::vector<OverlayLabel> labels;
};

/// The fill and outline colour (RGB) of the mask at index `i`: well-separated hues, the same for
/// an index in every image.
std::array<std::uint8_t, 3> overlay_colour(size_t i);

/// Draws `records` over `image`. Fills: each mask's pixels become (pixel + colour) / 2, largest
/// mask first so smaller ones stay visible. Outlines: the mask's border pixels (its contour,
/// line_width thick, inward) in its colour. Labels: the mask's id (style.first_id plus its index
/// in `records`: the id its output carries), one on each connected part of the mask (8-connected),
/// white with a dark edge, centred on the part's pixel farthest from its border and moved inside
/// the image. Line
/// width and font scale grow with the image's short side, so labels read at any size.
Overlay render_overlay(const ImageU8& image, const std::vector<MaskRecord>& records, const OverlayStyle& style = {});

/// Renders and writes an overlay to `path`, encoded by its extension (.png lossless, .jpg).
/// Throws OutputError.
void write_overlay(const std::string& path, const ImageU8& image, const std::vector<MaskRecord>& records,
                   const OverlayStyle& style = {});

/// The overlay writer of --overlay-dir: `dir/<stem>.overlay.png` per input, with the stems of
/// the per-image outputs (output_stems). An image counts as done when its overlay exists.
std::unique_ptr<MaskWriter> make_overlay_writer(const std::string& dir, const std::vector<InputFile>& inputs,
                                                const OverlayStyle& style);

/// The overlay file of each input in `dir` (input path -> `dir/<stem><suffix>`), as
/// make_overlay_writer names them (suffix ".overlay.png").
std::map<std::string, std::string> overlay_paths(const std::string& dir, const std::vector<InputFile>& inputs,
                                                 const std::string& suffix = ".overlay.png");

}  // namespace sam2amg
