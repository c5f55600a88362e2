#pragma once
/// Keeping a run inside its outputs (internal to io/): names derived from inputs that cannot
/// leave the output folder, and an exclusive lock per output so two runs never write one file.
#include <map>
#include <string>
#include <vector>

#include "io/inputs.h"

namespace sam2amg {

/// A relative output name made from an input's relative name, every component of which stays
/// inside the folder it is joined to: "." and ".." (the stems of "..png" and "...png") become
/// "%2E" and "%2E%2E", control characters and backslashes become %XX, empty components (a leading
/// or doubled '/') are dropped. Other names are returned unchanged.
std::string safe_relative_name(const std::string& name);

/// The per-image output name of each input (input path -> stem), shared by every per-image
/// output (--out-dir files, --overlay-dir pictures): the input's relative name without its
/// extension; names that would collide keep their extension, and the same name from two folder
/// inputs numbers the later ones ("x~2"). Every stem is a safe_relative_name.
std::map<std::string, std::string> output_stems(const std::vector<InputFile>& inputs);

/// `dir` + "/" + `relative`, after checking that `relative` is a relative path none of whose
/// components is empty, "." or "..". Throws OutputError otherwise (a bug guard: names come from
/// safe_relative_name).
std::string path_inside(const std::string& dir, const std::string& relative);

/// Creates the folders of `folder` below `root` (which exists) one at a time, refusing one that is
/// a symbolic link or not a folder: nothing is written through a link out of the output folder.
/// Throws OutputError naming the component.
void make_folders_inside(const std::string& root, const std::string& folder);

/// True when make_folders_inside(root, the folder of `path`) would refuse: a folder between `root`
/// and `path` (inside it) exists and is a symbolic link or not a folder. Reads only.
bool blocked_inside(const std::string& root, const std::string& path);

/// An exclusive lock on one output, held while the object lives: `lock_path` is created (never
/// truncated) and locked with flock(2); it is removed when released. While held, the temporaries
/// of `output` are this lock's (claim_temporaries: a killed run's are removed). Throws UsageError (exit 2)
/// naming `output` when another process holds the lock, OutputError when the file cannot be
/// created.
class OutputLock {
 public:
  OutputLock(std::string lock_path, const std::string& output);
  ~OutputLock();
  OutputLock(OutputLock&& other) noexcept;
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  OutputLock& operator=(OutputLock&&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::string output_;
  int fd_ = -1;
};

}  // namespace sam2amg
