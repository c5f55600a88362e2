#pragma once
/// The shard naming scheme, in one place: a shard's label, the names of its files and of its
/// done marker, and how `merge` finds them again. Which files a shard writes is io/outputs.h;
/// what it proves about itself, io/shard_identity.h.
#include <map>
#include <optional>
#include <string>

#include "io/shards.h"

namespace sam2amg {

/// "shard-00042-of-01000".
std::string shard_label(const Shard& shard);

/// The shard of a label written by shard_label (at least five digits each); nullopt for anything else.
std::optional<Shard> parse_shard_label(const std::string& label);

/// "out/masks.json" -> "out/masks.shard-00042-of-01000.json" (the label goes before the extension).
std::string shard_path(const std::string& path, const Shard& shard);

/// The inverse of shard_path: "out/masks.shard-00042-of-01000.json" -> "out/masks.json"; any
/// other path is returned unchanged.
std::string unshard_path(const std::string& path);

/// The shard's commit marker next to `path`: "out/masks.shard-00042-of-01000.done.json".
std::string shard_done_path(const std::string& path, const Shard& shard);

/// The shard's commit marker inside a folder output (--out-dir, --yolo):
/// "shard-00042-of-01000.done.json".
std::string shard_done_name(const Shard& shard);

/// The shard files of a run, as `merge` finds them: index -> path.
struct ShardFiles {
  int count = 0;                        ///< N from the file names (or the expected count)
  std::map<int, std::string> outputs;   ///< the shards' output files
  std::map<int, std::string> markers;   ///< their commit markers
};

/// The shards of `--out F.json`: F.shard-IIIII-of-NNNNN.json and their .done.json markers.
/// Throws UsageError when the names disagree on N or with `expected_count` (0 = any).
ShardFiles find_coco_shards(const std::string& out, int expected_count);

/// The shard markers of `--out-dir DIR` (the per-image files carry no shard name).
ShardFiles find_dir_shards(const std::string& dir, int expected_count);

}  // namespace sam2amg
