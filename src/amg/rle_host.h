#pragma once
/// The host RLE codec: uncompressed RLE and the pycocotools compressed string. Torch-free (the
/// tensor encoder is amg/rle_tensor.h); used by the generator's records and by the writers.
/// ref: sam2/utils/amg.py (mask_to_rle_pytorch, rle_to_mask, area_from_rle) and cocoapi
/// common/maskApi.c (rleToString, rleFrString, rleToBbox).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace sam2amg {

/// Uncompressed RLE of an H x W binary mask in pycocotools' convention: the mask is read in
/// column-major order (index x*H + y) and `counts` alternate runs of 0s and 1s, starting with a
/// (possibly empty) run of 0s. sum(counts) == h*w.
struct Rle {
  int h = 0;
  int w = 0;
  std::vector<std::uint32_t> counts;

  bool operator==(const Rle& o) const { return h == o.h && w == o.w && counts == o.counts; }
};

/// The mask's area: the sum of the odd-index runs. ref: amg.py area_from_rle.
std::int64_t area_from_rle(const Rle& rle);

/// Decodes to a row-major H*W byte mask (0/1). ref: amg.py rle_to_mask.
std::vector<std::uint8_t> rle_to_mask(const Rle& rle);

/// Encodes a row-major H*W byte mask (nonzero = foreground). Host-side twin of the tensor
/// encoder in amg/rle_tensor.h, for writers and tests.
Rle rle_from_mask(const std::uint8_t* mask, int h, int w);

/// pycocotools' compressed counts string (byte-exact with maskApi.c rleToString): deltas against
/// the run two back from index 3 on, 5 bits per char, ASCII 48..111.
std::string rle_to_string(const Rle& rle);

/// Inverse of rle_to_string (maskApi.c rleFrString). Throws std::invalid_argument on a string
/// that does not decode to runs summing to h*w, or holds a value of more than 7 characters
/// (which rleFrString shifts past its integer's width).
Rle rle_from_string(const std::string& s, int h, int w);

/// pycocotools' toBbox: [x, y, width, height] with inclusive widths (+1), [0,0,0,0] when empty.
std::array<double, 4> rle_to_coco_bbox(const Rle& rle);

}  // namespace sam2amg
