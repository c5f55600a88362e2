#pragma once
/// `sam2-amg merge`: combine or verify the outputs of a sharded run.
#include <cstdint>
#include <string>
#include <vector>

namespace sam2amg {

struct MergeReport {
  int shard_count = 0;
  std::vector<int> missing;     ///< shards with no output at all
  std::vector<int> incomplete;  ///< shards with output but no done marker (still running, or killed)
  std::int64_t images = 0;
  std::int64_t annotations = 0;
  bool ok() const { return missing.empty() && incomplete.empty() && shard_count > 0; }
};

/// Merges `<stem>.shard-XXXXX-of-NNNNN.json` (next to `out`, each committed by its
/// `.done.json` marker) into one COCO file at `out`: images in input-path order (the order of an
/// unsharded run), ids renumbered from 1, annotations re-pointed. Nothing is written unless every
/// shard is complete. `expected_count` (0 = from the file names) must match the shard count.
/// The shards must come from one run (merged_provenance: same model and config); the merged
/// file's `info.sam2_amg` records that run unsharded. A shard that is not a complete sam2-amg COCO
/// file, or of another model or config, or not the shard its name says, of another input set, or
/// holding an image another shard holds or not every input it was given (written or recorded
/// unreadable), is refused (UsageError naming it); nothing is written and
/// no temporary file is left. Streams: memory holds one shard at a time plus an index of the
/// images. Throws OutputError / UsageError.
MergeReport merge_coco_shards(const std::string& out, int expected_count);

/// Checks that every shard of a per-image run in `dir` committed its `shard-*.done.json`, and
/// that the shards are one run's (check_shard_markers); then records that run in `dir/run.json`,
/// unsharded (with `merged_out` as its --out when given), with every shard's unreadable inputs.
MergeReport verify_dir_shards(const std::string& dir, int expected_count, const std::string& merged_out = "");

/// Merges `<stem>.shard-XXXXX-of-NNNNN.jsonl` into one JSON-lines file at `out`: the merged run
/// record, then the image lines in input-path order, byte for byte. The markers are beside `out`,
/// or beside (in) `markers_of` when the run also wrote --out (--out-dir). The same checks as
/// merge_coco_shards. Throws UsageError / OutputError.
MergeReport merge_jsonl_shards(const std::string& out, int expected_count, const std::string& markers_of = "");

}  // namespace sam2amg
