#pragma once
/// Deterministic sharding of a run's inputs for job arrays (Slurm, Kubernetes Indexed Jobs).
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "io/inputs.h"

namespace sam2amg {

struct Shard {
  int index = 0;  ///< 0-based
  int count = 1;
};

/// Looks up an environment variable (injectable for tests); empty when unset.
using EnvLookup = std::function<std::string(const char*)>;
std::string real_env(const char* name);

/// The shard of this process: `flag` "I/N" when given ("none" disables sharding); otherwise
/// SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN of SLURM_ARRAY_TASK_COUNT, or JOB_COMPLETION_INDEX
/// of `shard_count` (or SAM2AMG_SHARD_COUNT). nullopt when not sharded. Throws UsageError.
std::optional<Shard> resolve_shard(const std::string& flag, int shard_count, const EnvLookup& env = real_env);

/// The stable key of an input: 64-bit FNV-1a of its name (path relative to its folder input).
/// An input's shard depends on nothing else, so it never moves when the input list grows,
/// shrinks or is reordered.
std::uint64_t shard_key(const InputFile& input);

/// The inputs of `shard`, in their given (sorted) order.
std::vector<InputFile> inputs_of_shard(const std::vector<InputFile>& inputs, const Shard& shard);

/// SHA-256 of the run's input list: the canonical keys (the path where none), sorted, one a line.
/// The same files give the same digest however their paths were spelled. Every shard records the
/// whole run's, so that merge can refuse shards of different input sets.
std::string inputs_sha256(const std::vector<InputFile>& inputs);

// Shard file names and markers: io/shard_files.h; commits: io/outputs.h; what a shard proves:
// io/shard_identity.h.

}  // namespace sam2amg
