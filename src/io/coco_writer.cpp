// The COCO writer: one instances file for the run, assembled from a journal at finish().
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>

#include "common/error.h"
#include "common/printable.h"
#include "io/coco_document.h"
#include "io/json_files.h"
#include "io/provenance.h"
#include "io/records_json.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class CocoWriter : public MaskWriter {
 public:
  CocoWriter(std::string path, SegmentationFormat format, Provenance provenance, bool resume)
      : path_(std::move(path)), journal_path_(path_ + ".partial.jsonl"), format_(format),
        provenance_(std::move(provenance)) {
    // The journal starts with the run record; resuming another run's journal would mix outputs.
    // It is created with the first image, so a run that fails before any leaves none; an
    // unwritable folder still fails here, before any work.
    const fs::path folder = fs::path(path_).parent_path();
    if (::access(folder.empty() ? "." : folder.c_str(), W_OK | X_OK) != 0)
      throw OutputError(path_, std::strerror(errno));
    if (resume && resume_run_lines(journal_path_, provenance_, printable(journal_path_), [&](const json& line) {
          done_.insert(line["image"].value("path", std::string()));
        })) {
      journal_.emplace(journal_path_, /*append=*/true);
    } else if (!resume) {
      // Only --overwrite gets here with a journal (OutputGuard refuses it otherwise): an earlier
      // run's journal must not be resumed into this run's file later.
      std::error_code ec;
      fs::remove(journal_path_, ec);
    }
  }

  bool done(const InputFile& input) const override { return done_.count(input.path) > 0; }

  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    // One self-contained line per image; ids are assigned when the file is assembled.
    json anns = json::array();
    for (const MaskRecord& r : records) anns.push_back(coco_annotation(r, 0, 0, format_));
    json image{{"file_name", info.input.name}, {"path", info.input.path}, {"width", info.width}, {"height", info.height}};
    if (info.funnel) image["funnel"] = funnel_json(*info.funnel);
    if (!journal_) {
      journal_.emplace(journal_path_, /*append=*/false);
      journal_->write(run_record(provenance_));
    }
    journal_->write({{"type", "image"},
                     {"image", std::move(image)},
                     {"annotations", std::move(anns)},
                     {"sam2_amg", image_provenance_json(provenance_, info.input)}});
    done_.insert(info.input.path);
  }

  void set_run_end(const RunEnd& end) override { run_end_ = end; }

  void finish(bool complete) override {
    const bool has_journal = journal_.has_value();
    journal_.reset();
    json run = provenance_json(provenance_);
    run["run"] = run_end_json(run_end_);
    const json info{{"description", "automatic masks from sam2-amg"}, {"version", provenance_.tool_version},
                    {"sam2_amg", std::move(run)}};
    // Images and annotations in journal order.
    // Every image this run recorded must be in the file: a journal that went missing or lost
    // lines is an error, never a smaller (or empty) file and exit 0.
    write_coco_document(
        path_, info,
        [&](const CocoEntryVisitor& visit) {
          if (!has_journal) return;  // no image yet: a stale journal (--overwrite) is not this run's
          std::ifstream in(journal_path_);
          for (std::string s; std::getline(in, s);) {
            json line = json::parse(s, nullptr, /*allow_exceptions=*/false);
            if (!line.is_discarded() && line.contains("image")) visit(line);
          }
        },
        static_cast<std::int64_t>(done_.size()));
    std::error_code ec;
    if (complete) fs::remove(journal_path_, ec);
  }

 private:
  std::string path_;
  std::string journal_path_;
  SegmentationFormat format_;
  Provenance provenance_;
  std::optional<JsonLinesFile> journal_;  ///< open once this run has an image (or resumes one)
  std::set<std::string> done_;
  RunEnd run_end_;
};

}  // namespace

std::unique_ptr<MaskWriter> make_coco_writer(const std::string& path, SegmentationFormat format,
                                             const Provenance& provenance, bool resume) {
  return std::make_unique<CocoWriter>(path, format, provenance, resume);
}

}  // namespace sam2amg
