#pragma once
/// An input's identity across runs, in one place (internal to io/): what an output records about
/// the file an image came from (its canonical key, its exact path bytes, its content's size and
/// modification time), and how resume compares that record with the input now.
#include <nlohmann/json.hpp>

#include <string>

#include "io/inputs.h"

namespace sam2amg {

/// Percent-escapes every byte outside printable ASCII, and '%': the exact bytes of a name in
/// plain ASCII, whatever its encoding ("a\xff.png" -> "a%FF.png").
std::string escape_bytes(const std::string& bytes);

/// An input's identity across runs, as outputs record it beside the image's provenance:
/// {"key": the canonical path the run de-duplicates by, "path_bytes": the path as given, both
/// escape_bytes; "size", "mtime_ns": its content's size and modification time}. A path that is
/// not UTF-8 is kept exactly by the escaped bytes (the text form replaces what it cannot hold).
nlohmann::json input_identity_json(const InputFile& input);

/// The identity key of `input` (input_identity_json's "key").
std::string input_key(const InputFile& input);

/// What an earlier output recorded about its input, compared with `input` now.
enum class InputMatch {
  kSame,     ///< the same input, content unchanged: done
  kChanged,  ///< the same input, rewritten since (size or mtime differ): recompute it
  kOther,    ///< another input
};

/// The key an earlier record names: its identity's key; from an output without one (an older
/// version's), the canonical form of its recorded `path`.
std::string recorded_input_key(const nlohmann::json& identity, const std::string& recorded_path);

/// Compares a recorded identity (input_identity_json; null for an older output) and path with
/// `input` as it is now.
InputMatch match_input(const nlohmann::json& identity, const std::string& recorded_path, const InputFile& input);

/// True when the input a recorded identity (input_identity_json) names was rewritten since: its
/// size or modification time differ now. A file that is gone, or a record without them, is not.
bool recorded_input_changed(const nlohmann::json& identity);

/// The path bytes a recorded identity holds (its "path_bytes", unescaped), else `recorded_path`.
std::string recorded_input_path(const nlohmann::json& identity, const std::string& recorded_path);

}  // namespace sam2amg
