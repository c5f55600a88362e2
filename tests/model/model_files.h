#pragma once
// Model files changed for a test: a copy of an export with one piece of its metadata replaced.
#include <caffe2/serialize/inline_container.h>

#include <string>

#include "support/catch.h"

namespace sam2amg::test {

/// Copies the TorchScript archive `from` to `to`, replacing `old_text` by `new_text` in its
/// metadata (extra/sam2_amg.json), which must contain it.
inline void copy_with_metadata(const std::string& from, const std::string& to, const std::string& old_text,
                               const std::string& new_text) {
  caffe2::serialize::PyTorchStreamReader reader(from);
  caffe2::serialize::PyTorchStreamWriter writer(to);
  for (const std::string& name : reader.getAllRecords()) {
    if (name == "version" || name == ".data/version") continue;
    auto [data, size] = reader.getRecord(name);
    std::string bytes(static_cast<const char*>(data.get()), size);
    if (name == "extra/sam2_amg.json") {
      const auto at = bytes.find(old_text);
      REQUIRE(at != std::string::npos);
      bytes.replace(at, old_text.size(), new_text);
    }
    writer.writeRecord(name, bytes.data(), bytes.size());
  }
  writer.writeEndOfFile();
}

}  // namespace sam2amg::test
