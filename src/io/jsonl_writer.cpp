// The JSON-lines writer: one line per image, flushed as images finish.
#include <fstream>
#include <optional>
#include <set>

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
  }
  bool done(const InputFile& input) const override { return done_.count(input.path) > 0; }
  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    json line{
        {"image", {{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}}},
        {"annotations", sa1b_annotations(records, format_)},
        {"sam2_amg", provenance_}};
    if (info.funnel) line["funnel"] = funnel_json(*info.funnel);
    out_->write(line);
  }
  void finish(bool) override {}

 private:
  // Keeps the complete lines of an interrupted run's file; a torn last line is cut off.
  void load_existing(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return;
    keep_complete_lines(in, path, [&](const json& line) {
      if (!line.contains("image")) return false;
      done_.insert(line["image"]["path"].get<std::string>());
      return true;
    });
  }

  SegmentationFormat format_;
  json provenance_;
  std::optional<JsonLinesFile> out_;
  std::set<std::string> done_;
};

}  // namespace

std::unique_ptr<MaskWriter> make_jsonl_writer(const std::string& path, SegmentationFormat format,
                                              const Provenance& provenance, bool resume) {
  return std::make_unique<JsonlWriter>(path, format, provenance, resume);
}

}  // namespace sam2amg
