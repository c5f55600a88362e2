#pragma once
/// Writing one COCO instances document (internal to io/): used by the COCO writer, from its
/// journal, and by `merge`, from the shards. Streams: only one image's entry is in memory.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace sam2amg {

/// One image's entry: {"image": {...}, "annotations": [...]}; ids are assigned by the writer.
using CocoEntryVisitor = std::function<void(nlohmann::json& entry)>;
/// Calls the visitor for every image, in output order. Called twice: images, then annotations.
using CocoEntrySource = std::function<void(const CocoEntryVisitor&)>;

struct CocoCounts {
  std::int64_t images = 0;
  std::int64_t annotations = 0;
};

/// Writes `path` atomically: `info`, no licenses, the one category (id 1, "object"), the images
/// with ids from 1 in source order, and the annotations with ids from 1, re-pointed at their
/// image's new id. With `expected_images` >= 0, a source that yields another number of images
/// (a journal removed or cut by someone else) leaves `path` untouched. Throws OutputError.
CocoCounts write_coco_document(const std::string& path, const nlohmann::json& info, const CocoEntrySource& source,
                               std::int64_t expected_images = -1);

}  // namespace sam2amg
