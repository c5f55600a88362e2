// The checks a run's outputs pass before any work (check_outputs, check_resumable_outputs) and
// the guard that makes them, creates the outputs' folders and locks them (OutputGuard).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "common/error.h"
#include "common/printable.h"
#include "io/outputs.h"
#include "io/run_lines.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

std::string canonical(const std::string& path) {
  std::error_code ec;
  const fs::path c = fs::weakly_canonical(path, ec);
  return ec ? path : c.string();
}

bool non_empty(const std::string& path) {
  std::error_code ec;
  const auto st = fs::status(path, ec);
  if (!fs::exists(st)) return false;
  return !fs::is_regular_file(st) || fs::file_size(path, ec) > 0;
}

// An existing output that marks an earlier run.
bool earlier_present(const OutputRow& row) {
  std::error_code ec;
  // A target the writer refuses to reach (exit 5, naming the link) is not looked at beyond it.
  if (row.per_image && blocked_inside(row.folder, row.path)) return false;
  switch (row.earlier) {
    case OutputRow::Earlier::kNever: return false;
    case OutputRow::Earlier::kExists: return fs::exists(fs::symlink_status(row.path, ec));
    case OutputRow::Earlier::kNonEmpty: return non_empty(row.path);
  }
  return false;
}

// Outputs that name an input, the input list or each other, and file outputs that are folders.
void check_output_names(const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs,
                        const std::string& input_list) {
  std::map<std::string, std::string> taken;  // canonical path -> what it is
  for (const InputFile& in : inputs) taken.emplace(in.key.empty() ? canonical(in.path) : in.key, "an input");
  if (!input_list.empty()) taken.emplace(canonical(input_list), "--input-list");
  for (const OutputRow& row : table) {
    if (!row.checked_for_names || row.kind == OutputRow::Kind::kStdout) continue;
    const std::string name = row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what;
    const auto [it, fresh] = taken.emplace(canonical(row.path), name);
    if (!fresh)
      throw UsageError(name + " '" + printable(row.path) + "' is also " + it->second +
                       ": writing it would destroy that; choose another output path");
  }
  // The same file under another name (a hard link): compare inodes, not paths.
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, std::string>> existing;  // -> (what, path)
  for (const OutputRow& row : table) {
    if (!row.checked_for_names || row.kind == OutputRow::Kind::kStdout) continue;
    struct stat st {};
    if (::stat(row.path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
      existing.emplace(std::make_pair(st.st_dev, st.st_ino),
                       std::make_pair(row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what, row.path));
  }
  if (!existing.empty()) {
    std::vector<std::string> sources;
    for (const InputFile& in : inputs) sources.push_back(in.path);
    if (!input_list.empty()) sources.push_back(input_list);
    for (const std::string& src : sources) {
      struct stat st {};
      if (::stat(src.c_str(), &st) != 0) continue;
      const auto it = existing.find({st.st_dev, st.st_ino});
      if (it != existing.end())
        throw UsageError(it->second.first + " '" + printable(it->second.second) + "' is the same file as '" +
                         printable(src) + "' (a hard link): writing it would destroy that; choose another output path");
    }
  }
  std::error_code ec;
  for (const OutputRow& row : table)
    if (row.role == OutputRow::Role::kOutput && row.kind == OutputRow::Kind::kFile && row.writer != OutputRow::Writer::kNone &&
        fs::is_directory(row.path, ec))
      throw UsageError(row.flag + " '" + printable(row.path) + "' is a folder: give a file name" +
                       (row.flag == "--jsonl" ? ", or - for standard output" : " (or use --out-dir for a folder)"));
}

// Outputs an earlier run left, refused unless resuming or overwriting.
void check_existing_outputs(const OutputPaths& paths, const std::vector<OutputRow>& table) {
  if (paths.resume || paths.overwrite) return;
  for (const OutputRow& row : table) {
    if (!earlier_present(row)) continue;
    const std::string name = row.role == OutputRow::Role::kOutput && row.writer != OutputRow::Writer::kNone
                                 ? row.flag + " '" + printable(row.path) + "'"
                                 : "'" + printable(row.path) + "' (" + row.flag + "'s " + row.what + ")";
    throw UsageError(name + " " + row.earlier_means +
                     (row.per_image ? ": move it away, or give --overwrite to replace it"
                                    : ": give --resume to continue the run that wrote it, or --overwrite to replace it"));
  }
}

// An output can be written: an existing file or folder is writable, or else the nearest
// existing folder above it is (where it would be created). Nothing is created to find out.
void check_writable(const std::string& path, const std::string& flag) {
  std::error_code ec;
  fs::path p = fs::absolute(path, ec);
  if (fs::exists(p, ec)) {
    const int mode = fs::is_directory(p, ec) ? (W_OK | X_OK) : W_OK;
    if (::access(p.c_str(), mode) != 0) throw OutputError(path, flag + ": not writable");
    return;
  }
  for (p = p.parent_path(); !p.empty(); p = p.parent_path()) {
    if (!fs::exists(p, ec)) continue;
    if (!fs::is_directory(p, ec)) throw OutputError(path, flag + ": '" + printable(p.string()) + "' is not a folder");
    if (::access(p.c_str(), W_OK | X_OK) != 0)
      throw OutputError(path, flag + ": cannot create it in '" + printable(p.string()) + "' (not writable)");
    return;
  }
}

// What the writers check of the inputs before any work.
void check_writer_inputs(const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs) {
  for (const OutputRow& row : table)
    if (row.writer == OutputRow::Writer::kYolo) yolo_label_names(inputs);  // throws on a shared label
}

// Every check before any work. The guard looks at earlier outputs only once it holds the locks
// (`existing` false), so a second run on a locked output says it is locked.
void check_all(const OutputPaths& paths, const std::vector<OutputRow>& table, const std::vector<InputFile>& inputs,
               const std::string& input_list, bool existing) {
  check_output_names(table, inputs, input_list);
  check_writer_inputs(table, inputs);
  if (existing) check_existing_outputs(paths, table);
  for (const OutputRow& row : table)
    if (row.kind != OutputRow::Kind::kStdout && row.role != OutputRow::Role::kLock && !row.per_image)  // its folder's
      check_writable(row.path, row.role == OutputRow::Role::kOutput ? row.flag : row.flag + "'s " + row.what);
}

}  // namespace

void check_outputs(const OutputPaths& paths, const std::vector<InputFile>& inputs, const std::string& input_list) {
  check_all(paths, output_table(paths, inputs), inputs, input_list, /*existing=*/true);
}

void check_resumable_outputs(const OutputPaths& paths, const Provenance& provenance) {
  if (!paths.resume) return;
  for (const OutputRow& row : output_table(paths, {})) {
    switch (row.writer) {
      case OutputRow::Writer::kCoco: check_coco_resumable(row.path, provenance); break;
      case OutputRow::Writer::kPerImage:
        if (!paths.shard) check_per_image_resumable(row.path, provenance);  // as RunOutputs opens it
        break;
      case OutputRow::Writer::kJsonl:
        if (row.kind != OutputRow::Kind::kStdout)
          check_run_lines_resumable(row.path, provenance, "--jsonl '" + printable(row.path) + "'");
        break;
      case OutputRow::Writer::kYolo:
        check_run_lines_resumable(paths.yolo_manifest, provenance, "'" + printable(paths.yolo_manifest) + "'");
        break;
      case OutputRow::Writer::kNone:
      case OutputRow::Writer::kOverlay: break;
    }
  }
}

OutputGuard::OutputGuard(const OutputPaths& paths, const std::vector<InputFile>& inputs,
                         const std::string& input_list) {
  const std::vector<OutputRow> table = output_table(paths, inputs);
  // Everything that can refuse the run refuses it here, before anything is created.
  check_all(paths, table, inputs, input_list, /*existing=*/false);
  try {
    std::error_code ec;
    // Parents first (every one, or none: a failure undoes the others), then the locks.
    auto create = [&](const fs::path& dir) {
      std::vector<fs::path> missing;
      for (fs::path p = dir; !p.empty() && !fs::exists(fs::symlink_status(p, ec)); p = p.parent_path()) {
        missing.push_back(p);
        if (p == p.parent_path()) break;
      }
      for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
        fs::create_directory(*it, ec);
        if (ec) throw OutputError(it->string(), ec.message());
        created_dirs_.push_back(it->string());
      }
    };
    for (const OutputRow& row : table) {
      if (row.kind == OutputRow::Kind::kStdout) continue;
      if (row.remove_if_never_started && row.role != OutputRow::Role::kLock && !fs::exists(fs::symlink_status(row.path, ec)))
        absent_files_.push_back(row.path);
      if (!row.create_parents) continue;
      create(row.kind == OutputRow::Kind::kFolder ? fs::path(row.path) : fs::path(row.path).parent_path());
    }
    // One run per output at a time. The lock comes before the second look at existing outputs,
    // so a run that finishes meanwhile cannot be overwritten unseen.
    for (const OutputRow& row : table)
      if (row.role == OutputRow::Role::kLock) {
        // The output it guards: the row above it of the same flag.
        std::string guarded = row.path;
        for (const OutputRow& r : table)
          if (r.flag == row.flag && r.role == OutputRow::Role::kOutput) {
            guarded = r.path;
            break;
          }
        locks_.emplace_back(row.path, guarded);
      }
    check_existing_outputs(paths, table);
  } catch (...) {
    undo();
    throw;
  }
}

void OutputGuard::undo() {
  locks_.clear();
  std::error_code ec;
  for (const std::string& f : absent_files_) fs::remove(f, ec);  // this run's own: absent before it
  // Only when still empty; the innermost first.
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec);
  created_dirs_.clear();
  absent_files_.clear();
}

OutputGuard::~OutputGuard() {
  if (!started_) {
    undo();
    return;
  }
  locks_.clear();
  std::error_code ec;
  // Folders the run made but left empty (no image written to them) go too.
  for (auto it = created_dirs_.rbegin(); it != created_dirs_.rend(); ++it) fs::remove(*it, ec);
}

}  // namespace sam2amg
