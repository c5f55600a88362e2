// The JSON-lines writer: one line per image, flushed as images finish.
#include <fstream>
#include <optional>
#include <set>

#include "common/error.h"
#include "io/json_files.h"
#include "io/records_json.h"

namespace sam2amg {

using nlohmann::json;

namespace {

class JsonlWriter : public MaskWriter {
 public:
  JsonlWriter(const std::string& path, SegmentationFormat format, const Provenance& provenance, bool resume)
      : format_(format), provenance_(provenance_json(provenance)) {
    if (resume && path != "-") load_existing(path);
    out_.emplace(path, resume);
    path_ = path;
  }
  bool done(const InputFile& input) const override { return done_.count(input.path) > 0; }
  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    json line{
        {"image", {{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}}},
        {"annotations", sa1b_annotations(records, format_)},
        {"sam2_amg", provenance_}};
    if (info.funnel) line["funnel"] = funnel_json(*info.funnel);
    out_->write(line);
    ++written_;
  }
  void finish(bool) override {
    // Lines written to a file someone removed or replaced meanwhile are lost: say so.
    if (!out_->still_at_path())
      throw OutputError(path_, "was removed or replaced while this run wrote it; its " + std::to_string(written_) +
                                   " new lines are lost: rerun with --resume to write them again");
    out_->close();
  }

 private:
  // Keeps the complete lines of an interrupted run's file; a torn last line is cut off.
  void load_existing(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    keep_complete_lines(in, path, [&](const json& line) {
      if (!line.contains("image")) return false;
      // Results of another model or config must not be mixed into this run's file.
      if (!same_run(line.value("sam2_amg", json::object()), provenance_))
        throw UsageError("--jsonl '" + path + "' holds results of another model or config (" +
                         line["image"].value("path", std::string("?")) +
                         "); rerun with the same settings, or with --overwrite to start over");
      done_.insert(line["image"]["path"].get<std::string>());
      return true;
    });
  }

  SegmentationFormat format_;
  json provenance_;
  std::optional<JsonLinesFile> out_;
  std::set<std::string> done_;
  std::string path_;
  std::size_t written_ = 0;
};

}  // namespace

std::unique_ptr<MaskWriter> make_jsonl_writer(const std::string& path, SegmentationFormat format,
                                              const Provenance& provenance, bool resume) {
  return std::make_unique<JsonlWriter>(path, format, provenance, resume);
}

}  // namespace sam2amg
