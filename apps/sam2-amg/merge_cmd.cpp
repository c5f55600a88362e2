#include "merge_cmd.h"

#include <spdlog/spdlog.h>

#include "common/error.h"
#include "common/printable.h"
#include "io/merge.h"
#include "subcommands.h"

namespace sam2amg::cli {

namespace {

std::string list(const std::vector<int>& shards) {
  std::string s;
  for (size_t i = 0; i < shards.size(); ++i) s += (i ? ", " : "") + std::to_string(shards[i]);
  return s;
}

bool report(const MergeReport& r, const std::string& output) {
  const std::string what = printable(output);
  if (!r.missing.empty()) spdlog::error("{}: shards with no output: {}", what, list(r.missing));
  if (!r.incomplete.empty())
    spdlog::error("{}: shards started but not finished (no done marker; rerun them): {}", what, list(r.incomplete));
  return r.ok();
}

}  // namespace

int run_merge(const RunConfig& config) {
  const IoOptions& io = config.io;
  require_io(Subcommand::kMerge, io);
  bool ok = true;
  if (!io.out.empty()) {
    const MergeReport r = merge_coco_shards(io.out, io.shard_count);
    if (report(r, io.out))
      spdlog::info("merged {} shards into {}: {} images, {} masks", r.shard_count, printable(io.out), r.images,
                   r.annotations);
    ok = ok && r.ok();
  }
  if (!io.out_dir.empty()) {
    const MergeReport r = verify_dir_shards(io.out_dir, io.shard_count, io.out);
    if (report(r, io.out_dir)) spdlog::info("{}: all {} shards complete", printable(io.out_dir), r.shard_count);
    ok = ok && r.ok();
  }
  if (!io.jsonl.empty() && io.jsonl != "-") {
    // The run's markers are beside --out, else in --out-dir, else beside the JSONL file.
    const std::string markers_of = !io.out.empty() ? io.out : io.out_dir;
    const MergeReport r = merge_jsonl_shards(io.jsonl, io.shard_count, markers_of);
    if (report(r, io.jsonl))
      spdlog::info("merged {} shards into {}: {} images, {} masks", r.shard_count, printable(io.jsonl), r.images,
                   r.annotations);
    ok = ok && r.ok();
  }
  return ok ? 0 : static_cast<int>(ExitCode::kIncomplete);
}

}  // namespace sam2amg::cli
