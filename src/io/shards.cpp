#include "io/shards.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "common/error.h"
#include "io/sha256.h"

namespace sam2amg {

namespace {

int parse_int(const std::string& s, const char* what) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw UsageError(std::string("invalid ") + what + " '" + s + "': expected an integer");
  return v;
}

Shard checked(int index, int count, const std::string& source) {
  if (count < 1 || index < 0 || index >= count)
    throw UsageError("invalid shard " + std::to_string(index) + "/" + std::to_string(count) + " from " + source +
                     ": need 0 <= I < N");
  return {index, count};
}

}  // namespace

std::string real_env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::optional<Shard> resolve_shard(const std::string& flag, int shard_count, const EnvLookup& env) {
  if (flag == "none") return std::nullopt;
  if (!flag.empty()) {
    const size_t slash = flag.find('/');
    if (slash == std::string::npos) throw UsageError("invalid --shard '" + flag + "': expected I/N, e.g. 3/16");
    return checked(parse_int(flag.substr(0, slash), "shard index"), parse_int(flag.substr(slash + 1), "shard count"),
                   "--shard");
  }
  if (const std::string id = env("SLURM_ARRAY_TASK_ID"); !id.empty()) {
    const std::string count = env("SLURM_ARRAY_TASK_COUNT"), min = env("SLURM_ARRAY_TASK_MIN");
    if (count.empty()) throw UsageError("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not");
    const int first = min.empty() ? 0 : parse_int(min, "SLURM_ARRAY_TASK_MIN");
    return checked(parse_int(id, "SLURM_ARRAY_TASK_ID") - first, parse_int(count, "SLURM_ARRAY_TASK_COUNT"),
                   "SLURM_ARRAY_TASK_ID/COUNT (use --array=0-N or a contiguous range)");
  }
  if (const std::string idx = env("JOB_COMPLETION_INDEX"); !idx.empty()) {
    int n = shard_count;
    if (n == 0 && !env("SAM2AMG_SHARD_COUNT").empty()) n = parse_int(env("SAM2AMG_SHARD_COUNT"), "SAM2AMG_SHARD_COUNT");
    if (n == 0)
      throw UsageError("JOB_COMPLETION_INDEX is set: give the number of shards with --shard-count N or "
                       "SAM2AMG_SHARD_COUNT (the Job's completions)");
    return checked(parse_int(idx, "JOB_COMPLETION_INDEX"), n, "JOB_COMPLETION_INDEX");
  }
  return std::nullopt;
}

std::uint64_t shard_key(const InputFile& input) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : input.name) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::vector<InputFile> inputs_of_shard(const std::vector<InputFile>& inputs, const Shard& shard) {
  std::vector<InputFile> out;
  for (const InputFile& in : inputs)
    if (shard_key(in) % static_cast<std::uint64_t>(shard.count) == static_cast<std::uint64_t>(shard.index))
      out.push_back(in);
  return out;
}

std::string inputs_sha256(const std::vector<InputFile>& inputs) {
  std::vector<std::string> keys;
  keys.reserve(inputs.size());
  for (const InputFile& in : inputs) keys.push_back(in.key.empty() ? in.path : in.key);
  std::sort(keys.begin(), keys.end());
  std::string text;
  for (const std::string& k : keys) text += k + '\n';
  return sha256_hex(text);
}

}  // namespace sam2amg
