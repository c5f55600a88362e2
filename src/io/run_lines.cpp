#include "io/run_lines.h"

#include <filesystem>
#include <fstream>
#include <istream>

#include "common/error.h"
#include "common/printable.h"
#include "io/input_identity.h"
#include "io/provenance.h"

namespace sam2amg {

using nlohmann::json;

namespace {

// How a run record's text starts (keys in order): a torn first line that starts so is ours.
constexpr const char* kRunRecordStart = "{\"sam2_amg\":";

// Reads a JSON-lines file's first line into `first` and checks its run record against `p`
// (check_resumable), returning the config_sha256 it accepts; nullopt when there is nothing to
// resume (empty, or killed while writing the record). Anything else is checked: a file that does
// not start with a run record is refused (UsageError naming `what`).
std::optional<std::string> check_run_record(std::istream& in, std::string& first, const Provenance& p,
                                            const std::string& what) {
  const bool complete = static_cast<bool>(std::getline(in, first)) && !in.eof();
  if (!complete && (first.empty() || first.rfind(kRunRecordStart, 0) == 0)) return std::nullopt;
  const json record = json::parse(first, nullptr, false);
  if (!record.is_object() || record.value("type", std::string()) != "run")
    throw UsageError(what + " does not start with a sam2-amg run record (another tool's file, or an older "
                     "version's)" + resume_refusal_hint());
  return check_resumable(record.value("sam2_amg", json()), p, what);
}

}  // namespace

json run_record(const Provenance& p) { return {{"type", "run"}, {"sam2_amg", provenance_json(p)}}; }

void check_run_lines_resumable(const std::string& path, const Provenance& p, const std::string& what) {
  std::ifstream in(path, std::ios::binary);
  std::string first;
  if (!in) return;
  check_run_record(in, first, p, what);
}

RunLinesFile::RunLinesFile(std::string path, const Provenance& p) : path_(std::move(path)), record_(run_record(p)) {}

JsonLinesFile& RunLinesFile::get() {
  if (!file_) {
    file_.emplace(path_, append);
    if (!append) file_->write(record_);
  }
  return *file_;
}

bool resume_run_lines(const std::string& path, const Provenance& p, const std::string& what,
                      const std::function<void(const std::string& key, const json& line)>& done,
                      const std::function<void(const std::string& key)>& dropped) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::string first;
  const std::optional<std::string> checked = check_run_record(in, first, p, what);
  if (!checked) return false;
  const std::string& accepted = *checked;
  const json run = provenance_json(p);
  // Complete lines are kept up to the first torn or foreign one; lines of rewritten inputs are
  // dropped, and then the file is written anew without them.
  std::string kept = first + "\n";
  bool any_dropped = false;
  std::uintmax_t good = kept.size();
  for (std::string s; std::getline(in, s);) {
    if (in.eof()) break;  // no newline: a torn line
    const json line = json::parse(s, nullptr, false);
    if (!line.is_object() || line.value("type", std::string()) != "image" || !line.contains("image") ||
        !line["image"].is_object())
      break;
    const json prov = line.value("sam2_amg", json::object());
    const bool ours = same_run(prov, run) || (prov.is_object() && prov.value("model_sha256", json()) == p.model_sha256 &&
                                              recorded_config_sha256(prov) == accepted);
    if (!ours)
      throw UsageError(what + " holds results of another model or config (" +
                       printable(line["image"].value("path", std::string("?"))) + ")" + resume_refusal_hint());
    good += s.size() + 1;
    const json identity = line.value("input", json());
    if (recorded_input_changed(identity)) {
      any_dropped = true;
      if (dropped) dropped(recorded_input_key(identity, line["image"].value("path", std::string())));
      continue;
    }
    kept += s + "\n";
    done(recorded_input_key(identity, line["image"].value("path", std::string())), line);
  }
  in.close();
  if (any_dropped) {
    write_file_atomically(path, kept);
    return true;
  }
  std::error_code ec;
  std::filesystem::resize_file(path, good, ec);
  if (ec) throw OutputError(path, ec.message());
  return true;
}

}  // namespace sam2amg
