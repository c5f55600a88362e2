#include "version.h"

#include "model/runtime.h"

#ifndef SAM2AMG_VERSION
#define SAM2AMG_VERSION "0.0.0"
#endif
#ifndef SAM2AMG_GIT_REVISION
#define SAM2AMG_GIT_REVISION "unknown"
#endif

namespace sam2amg::cli {

RuntimeVersions runtime_versions() {
  const CudaRuntime rt = cuda_runtime();
  return {rt.libtorch, rt.cuda, rt.driver};
}

std::string version_text() {
  return std::string("sam2-amg ") + SAM2AMG_VERSION + " (git " + SAM2AMG_GIT_REVISION + ")\n" +
         runtime_description() + "\n";
}

}  // namespace sam2amg::cli
