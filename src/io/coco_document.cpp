#include "io/coco_document.h"

#include "common/error.h"
#include "io/json_files.h"

namespace sam2amg {

using nlohmann::json;

CocoCounts write_coco_document(const std::string& path, const json& info, const CocoEntrySource& source,
                               std::int64_t expected_images) {
  AtomicFile out(path);
  out.put("{\"info\": " + dump_json(info) + ",\n\"licenses\": [],\n\"categories\": " +
          dump_json(json::array({{{"id", 1}, {"name", "object"}, {"supercategory", "object"}}})) + ",\n\"images\": [");
  CocoCounts n;
  source([&](json& entry) {
    json image = entry["image"];
    image["id"] = ++n.images;
    out.put((n.images == 1 ? "\n" : ",\n") + dump_json(image));
  });
  if (expected_images >= 0 && n.images != expected_images)
    throw OutputError(path, "the run recorded " + std::to_string(expected_images) + " images but its journal holds " +
                            std::to_string(n.images) +
                            " (was it removed or changed by another process?); the file was not written");
  out.put("\n],\n\"annotations\": [");
  std::int64_t image_id = 0;
  source([&](json& entry) {
    ++image_id;
    for (json& a : entry["annotations"]) {
      a["id"] = ++n.annotations;
      a["image_id"] = image_id;
      out.put((n.annotations == 1 ? "\n" : ",\n") + dump_json(a));
    }
  });
  out.put("\n]}\n");
  out.commit();
  return n;
}

}  // namespace sam2amg
