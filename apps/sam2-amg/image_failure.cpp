#include "image_failure.h"

#include <new>
#include <string>

namespace sam2amg::cli {

std::optional<ImageError> per_image_failure(const std::exception& e) {
  // LibTorch's failures arrive typed (the model layer reads its messages); a std::bad_alloc
  // thrown outside it is the image's too.
  if (!dynamic_cast<const std::bad_alloc*>(&e)) return std::nullopt;
  return ImageError(std::string("not enough memory for this image (") + e.what() +
                    "); lower --points-per-batch or downscale it");
}

}  // namespace sam2amg::cli
