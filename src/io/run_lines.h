#pragma once
/// The JSON-lines outputs that start with a run record (--jsonl, the COCO journal, the YOLO
/// manifest), in one place (internal to io/): the record, the file created at its first line,
/// and resuming one (which lines are kept, which are this run's).
#include <nlohmann/json.hpp>

#include <functional>
#include <optional>
#include <string>

#include "io/json_files.h"
#include "io/writers.h"

namespace sam2amg {

/// The first line of a JSON-lines output (--jsonl, the COCO journal): {"type": "run",
/// "sam2_amg": provenance_json}. Image lines carry {"type": "image", ..., "sam2_amg":
/// image_provenance_json, "input": input_identity_json}; a reader skips every line whose type is
/// not "image".
nlohmann::json run_record(const Provenance& p);

/// A JSON-lines output that starts with a run record (--jsonl, the YOLO manifest), created at its
/// first line so that a run that stops before its first image leaves none: a new file starts
/// with run_record, one resumed (`append`, from resume_run_lines) goes on after its kept lines.
class RunLinesFile {
 public:
  RunLinesFile(std::string path, const Provenance& p);
  bool append = false;
  /// The file, opened (and its run record written) on the first call.
  JsonLinesFile& get();

 private:
  std::string path_;
  nlohmann::json record_;
  std::optional<JsonLinesFile> file_;
};

/// Resumes a JSON-lines output that starts with a run record: false when there is nothing to
/// resume (no file, or no complete first line: the caller starts it afresh). Otherwise checks the
/// run record (check_resumable) and every complete image line against `p`, calls `done` with
/// each line's input key (recorded_input_key) and the line, and cuts a torn last line off. A line
/// whose input was rewritten since (its recorded size or mtime differ from the file's now) is
/// dropped from the file, so that its image is recomputed once, never held twice. Throws UsageError naming `what` when the
/// file holds results of another model or config, or has no run record (another tool's file, or
/// an older version's).
/// `dropped` (when given) is called with the input key of each line dropped so.
bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const std::string& key, const nlohmann::json& line)>& done,
                      const std::function<void(const std::string& key)>& dropped = {});

/// The check resume_run_lines makes of a JSON-lines file's run record, reading only: nothing
/// changes. Throws UsageError as resume_run_lines does; a file with nothing to resume passes.
void check_run_lines_resumable(const std::string& path, const Provenance& p, const std::string& what);

}  // namespace sam2amg
