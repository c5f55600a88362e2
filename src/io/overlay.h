#pragma once
/// A picture of the masks over their image (--overlay, tune --overlay-dir).
#include <string>
#include <vector>

#include "amg/mask_record.h"
#include "common/image.h"

namespace sam2amg {

/// Writes a JPEG of the image with every mask blended in a colour of its own (largest first).
void write_overlay(const std::string& path, const ImageU8& image, const std::vector<MaskRecord>& records);

}  // namespace sam2amg
