// The COCO writer: one instances file for the run, assembled from a journal at finish().
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <map>
#include <set>

#include "common/error.h"
#include "common/printable.h"
#include "io/coco_document.h"
#include "io/input_identity.h"
#include "io/json_files.h"
#include "io/provenance.h"
#include "io/records_json.h"
#include "io/run_lines.h"

namespace sam2amg {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

class CocoWriter : public MaskWriter {
 public:
  CocoWriter(std::string path, SegmentationFormat format, Provenance provenance, bool resume,
             const std::vector<InputFile>* inputs)
      : path_(std::move(path)), journal_path_(coco_journal_path(path_)), format_(format),
        provenance_(std::move(provenance)) {
    if (inputs) file_names_ = coco_file_names(*inputs);
    // The journal starts with the run record; resuming another run's journal would mix outputs.
    // It is created with the first image, so a run that fails before any leaves none; an
    // unwritable folder still fails here, before any work.
    const fs::path folder = fs::path(path_).parent_path();
    if (::access(folder.empty() ? "." : folder.c_str(), W_OK | X_OK) != 0)
      throw OutputError(path_, std::strerror(errno));
    if (resume && resume_run_lines(journal_path_, provenance_, "'" + printable(journal_path_) + "'",
                                   [&](const std::string& key, const json&) { done_.insert(key); })) {
      journal_.emplace(journal_path_, /*append=*/true);
    } else if (resume) {
      read_finished_file();
    } else {
      // Only --overwrite gets here with a journal (OutputGuard refuses it otherwise): an earlier
      // run's journal must not be resumed into this run's file later.
      std::error_code ec;
      fs::remove(journal_path_, ec);
    }
  }

  bool done(const InputFile& input) const override {
    return done_.count(input_key(input)) > 0 || finished_.count(input_key(input)) > 0;
  }

  void write(const ImageInfo& info, const ImageU8&, const std::vector<MaskRecord>& records) override {
    // One self-contained line per image; ids are assigned when the file is assembled.
    json anns = json::array();
    for (const MaskRecord& r : records) anns.push_back(coco_annotation(r, 0, 0, format_));
    const auto name = file_names_.find(info.input.path);
    // "input": the input's identity (input_identity_json), which resuming a finished file reads
    // back; COCO readers ignore the keys they do not know.
    const json identity = input_identity_json(info.input);
    json image{{"file_name", name == file_names_.end() ? info.input.name : name->second}, {"path", info.input.path},
               {"width", info.width}, {"height", info.height}, {"input", identity}};
    if (info.funnel) image["funnel"] = funnel_json(*info.funnel);
    if (!journal_) {
      journal_.emplace(journal_path_, /*append=*/false);
      journal_->write(run_record(provenance_));
      if (!finished_.empty() || !stale_.empty()) seed_journal_from_finished_file();
    }
    journal_->write({{"type", "image"},
                     {"image", std::move(image)},
                     {"annotations", std::move(anns)},
                     {"sam2_amg", image_provenance_json(provenance_, info.input)},
                     {"input", identity}});
    done_.insert(input_key(info.input));
  }

  void set_run_end(const RunEnd& end) override { run_end_ = end; }

 private:
  // The lines of a finished COCO file (as write_coco_document lays it out: info on the first line,
  // then one image or annotation per line), parsed; the sections' lines are passed to `visit`.
  template <typename F>
  void read_finished_lines(F&& visit) const {
    std::ifstream in(path_, std::ios::binary);
    std::string section;
    for (std::string s; std::getline(in, s);) {
      if (s.rfind("\"images\": [", 0) == 0 || s.rfind("],", 0) == 0) {
        section = s.rfind("\"images\"", 0) == 0 ? "images" : s.find("annotations") != std::string::npos ? "annotations" : "";
        continue;
      }
      if (s.rfind("\"annotations\": [", 0) == 0) {
        section = "annotations";
        continue;
      }
      if (section.empty() || s.empty() || s[0] != '{') continue;
      if (s.back() == ',') s.pop_back();
      const json j = json::parse(s, nullptr, false);
      if (j.is_object()) visit(section, j);
    }
  }

  // Resuming a finished file (its journal is gone): its settings must be this run's, and its
  // images count as done. Nothing is rewritten unless this run adds an image.
  void read_finished_file() {
    if (!check_finished_coco_file(path_, provenance_)) return;
    // By the recorded identity (a name that is not UTF-8 keeps its bytes); an image rewritten
    // since is not done, and its old entry is left out when the file is written again.
    read_finished_lines([&](const std::string& section, const json& j) {
      if (section != "images") return;
      const json identity = j.value("input", json());
      const std::string key = recorded_input_key(identity, j.value("path", std::string()));
      (recorded_input_changed(identity) ? stale_ : finished_).insert(key);
    });
  }

  // This run adds images to a finished file: its images go into the new journal first, so the
  // file assembled at finish() holds both.
  void seed_journal_from_finished_file() {
    std::map<std::int64_t, json> images;  // image id -> journal line
    read_finished_lines([&](const std::string& section, const json& j) {
      if (section == "images") {
        json image = j;
        const std::int64_t id = image.value("id", std::int64_t{0});
        image.erase("id");
        const json identity = image.value("input", json());
        if (stale_.count(recorded_input_key(identity, image.value("path", std::string())))) return;
        InputFile input{image.value("path", std::string()), image.value("file_name", std::string()), ""};
        images[id] = {{"type", "image"}, {"image", std::move(image)}, {"annotations", json::array()},
                      {"sam2_amg", image_provenance_json(provenance_, input)}, {"input", identity}};
      } else if (section == "annotations") {
        const auto it = images.find(j.value("image_id", std::int64_t{0}));
        if (it == images.end()) return;
        json a = j;
        a.erase("id");
        a.erase("image_id");
        it->second["annotations"].push_back(std::move(a));
      }
    });
    for (auto& [id, line] : images) {
      journal_->write(line);
      done_.insert(recorded_input_key(line["input"], line["image"].value("path", std::string())));
    }
    finished_.clear();
    stale_.clear();
  }

 public:

  void finish(bool complete) override {
    const bool has_journal = journal_.has_value();
    // A finished file resumed with nothing new to add stays as it is, byte for byte.
    if (!has_journal && (!finished_.empty() || !stale_.empty())) return;
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
  std::map<std::string, std::string> file_names_;  ///< input path -> file_name (coco_file_names)
  std::set<std::string> finished_;  ///< inputs in a finished file this run resumes (no journal)
  std::set<std::string> stale_;     ///< inputs in that file rewritten since: recomputed, old entry dropped
  RunEnd run_end_;
};

}  // namespace

bool check_finished_coco_file(const std::string& path, const Provenance& provenance) {
  std::ifstream in(path, std::ios::binary);
  std::string first;
  if (!in || !std::getline(in, first) || first.empty()) return false;
  const std::string head = "{\"info\": ";
  if (first.rfind(head, 0) != 0 || first.back() != ',')
    throw UsageError("--out '" + printable(path) + "' is not a COCO file sam2-amg wrote; rerun with --overwrite to "
                     "replace it");
  const json info = json::parse(first.substr(head.size(), first.size() - head.size() - 1), nullptr, false);
  check_resumable(info.is_object() ? info.value("sam2_amg", json()) : json(), provenance,
                  "--out '" + printable(path) + "'");
  return true;
}

void check_coco_resumable(const std::string& path, const Provenance& provenance) {
  const std::string journal = coco_journal_path(path);
  // As the writer resumes: the journal when it holds a run record, else the finished file.
  std::ifstream in(journal, std::ios::binary);
  std::string first;
  if (in && std::getline(in, first) && !in.eof())
    check_run_lines_resumable(journal, provenance, "'" + printable(journal) + "'");
  else
    check_finished_coco_file(path, provenance);
}

std::string coco_journal_path(const std::string& path) { return path + ".partial.jsonl"; }

std::map<std::string, std::string> coco_file_names(const std::vector<InputFile>& inputs) {
  // The common root: the longest folder path every input's (absolute, normalised) folder is in.
  std::vector<fs::path> paths;
  for (const InputFile& in : inputs) {
    std::error_code ec;
    paths.push_back(fs::absolute(in.path, ec).lexically_normal());
  }
  fs::path root;
  for (size_t i = 0; i < paths.size(); ++i) {
    const fs::path folder = paths[i].parent_path();
    if (i == 0) {
      root = folder;
      continue;
    }
    fs::path common;
    for (auto a = root.begin(), b = folder.begin(); a != root.end() && b != folder.end() && *a == *b; ++a, ++b)
      common /= *a;
    root = common;
  }
  std::map<std::string, std::string> names;
  for (size_t i = 0; i < inputs.size(); ++i) names[inputs[i].path] = paths[i].lexically_relative(root).generic_string();
  return names;
}

std::unique_ptr<MaskWriter> make_coco_writer(const std::string& path, SegmentationFormat format,
                                             const Provenance& provenance, bool resume,
                                             const std::vector<InputFile>* inputs) {
  return std::make_unique<CocoWriter>(path, format, provenance, resume, inputs);
}

}  // namespace sam2amg
