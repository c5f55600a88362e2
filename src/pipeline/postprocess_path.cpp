#include "pipeline/postprocess_path.h"

#include "amg/upsampled_masks.h"

namespace sam2amg {

std::string cuda_postprocess_path() { return cuda_stats_path(); }

}  // namespace sam2amg
