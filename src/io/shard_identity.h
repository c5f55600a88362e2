#pragma once
/// What a shard proves about itself (internal to io/): its done marker, the checks `merge` makes
/// before combining shards, and the merged run's provenance. A shard is the one its file name
/// says (index, count), of the run's one input set (the digest of the whole input list) and one
/// config, and accounts for every input it was given (written, or recorded unreadable). The
/// identity each of its outputs records is provenance_json's "shard" (io/provenance.h).
#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

#include "io/shards.h"
#include "io/writers.h"

namespace sam2amg {

/// The text of a shard's done marker: its identity, counts, the unreadable inputs and folder
/// entries of `end`, and the run's provenance (from which merge rebuilds the unsharded run's).
std::string shard_marker_text(const Provenance& provenance, const RunEnd& end, std::size_t handled, std::size_t masks);

/// The markers of a finished sharded run, checked against their file names and each other: one
/// model, one config (merged_provenance), one input set, every input handled. `markers`: index ->
/// marker path, every index of 0..count-1 present. Returns the parsed markers in index order.
/// Throws UsageError (exit 2) naming the first shard that fails, and why.
std::vector<nlohmann::json> check_shard_markers(const std::map<int, std::string>& markers, int count);

/// Checks the provenance a shard's output records (`recorded`, e.g. COCO info.sam2_amg or a JSONL
/// run record's sam2_amg) against the shard's marker, and that it holds `images` images: with the
/// marker's unreadable ones, exactly the inputs the shard was given. Throws UsageError naming
/// `output` (shard `index`).
void check_shard_output(const nlohmann::json& recorded, const nlohmann::json& marker, std::int64_t images, int index,
                        const std::string& output);

/// The run-level record of a merged run: every shard's unreadable inputs (in shard order) and the
/// folder entries any shard skipped (each once), complete.
nlohmann::json merged_run_end(const std::vector<nlohmann::json>& markers);

/// The provenance of a merged file, from its shards' (provenance_json each, in shard order). The
/// shards must share the model (SHA-256) and the config, apart from what only says where a shard
/// ran and wrote (shard, shard_count, its own output files, model path, device, threads) and the
/// inputs given. The result is shard 0's, with the config of one unsharded run writing `out`: no
/// shard, the union of the inputs, device and threads where all shards agree (else their defaults).
/// Throws UsageError naming the first shard that differs, and how.
nlohmann::json merged_provenance(const std::vector<nlohmann::json>& shards, const std::string& out);

}  // namespace sam2amg
