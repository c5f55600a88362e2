// The JSON-lines writer: a run record, then one line per image, flushed as images finish.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <set>

#include "common/error.h"
#include "common/printable.h"
#include "io/input_identity.h"
#include "io/json_files.h"
#include "io/provenance.h"
#include "io/records_json.h"
#include "io/run_lines.h"

namespace sam2amg {

using nlohmann::json;

namespace {

class JsonlWriter : public MaskWriter {
 public:
  JsonlWriter(const std::string& path, SegmentationFormat format, const Provenance& provenance, bool resume)
      : format_(format), provenance_(provenance), path_(path), out_(path, provenance) {
    // The file is created with the first image; an unwritable folder still fails here, before
    // any work.
    if (path_ != "-") {
      const std::filesystem::path folder = std::filesystem::path(path_).parent_path();
      if (::access(folder.empty() ? "." : folder.c_str(), W_OK | X_OK) != 0) throw OutputError(path_, std::strerror(errno));
    }
    // Resuming keeps the complete lines of an interrupted run's file (never another run's).
    out_.append = resume && path != "-" &&
                 resume_run_lines(path, provenance_, "--jsonl '" + printable(path) + "'",
                                  [&](const std::string& key, const json&) { done_.insert(key); });
  }
  bool done(const InputFile& input) const override { return done_.count(input_key(input)) > 0; }
  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    json line{
        {"type", "image"},
        {"image", {{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}}},
        {"annotations", sa1b_annotations(records, format_)},
        {"sam2_amg", image_provenance_json(provenance_, info.input)},
        {"input", input_identity_json(info.input)}};
    if (info.funnel) line["funnel"] = funnel_json(*info.funnel);
    out_.get().write(line);
    ++written_;
  }
  void finish(bool) override {
    JsonLinesFile& out = out_.get();  // a run without images still writes its run record
    // Lines written to a file someone removed or replaced meanwhile are lost: say so.
    if (!out.still_at_path())
      throw OutputError(path_, "was removed or replaced while this run wrote it; its " + std::to_string(written_) +
                                   " new lines are lost: rerun with --resume to write them again");
    out.close();
  }

 private:
  SegmentationFormat format_;
  Provenance provenance_;
  std::set<std::string> done_;
  std::string path_;
  RunLinesFile out_;  ///< opened with the first image (or at finish())
  std::size_t written_ = 0;
};

}  // namespace

std::unique_ptr<MaskWriter> make_jsonl_writer(const std::string& path, SegmentationFormat format,
                                              const Provenance& provenance, bool resume) {
  return std::make_unique<JsonlWriter>(path, format, provenance, resume);
}

}  // namespace sam2amg
