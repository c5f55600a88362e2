#pragma once
/// Finding a run's input images: files, folders, lists. No decoding here.
#include <string>
#include <vector>

namespace sam2amg {

struct IoOptions;

/// True for file names with an image extension OpenCV reads (case-insensitive).
bool has_image_extension(const std::string& path);

/// One input image: where it is, and the name outputs use (relative to its folder input).
struct InputFile {
  std::string path;
  std::string name;
  std::string key;  ///< canonical path, for de-duplication (empty when not computed)
  bool operator==(const InputFile& o) const { return path == o.path; }
};

/// Expands io.input (files, folders, "-" for paths on stdin) and io.input_list into a sorted,
/// de-duplicated list; folders give their image files (sub-folders with io.recursive), filtered
/// by io.glob (io.glob_ignore_case: either case). Explicit files are kept whatever their extension. Throws UsageError for a path that
/// does not exist.
std::vector<InputFile> collect_inputs(const IoOptions& io);

/// Shell-style match of a file name against a pattern with * and ?; with `ignore_case`, ASCII
/// letters match either case ("*.jpg" takes "IMG_1.JPG").
bool glob_match(const std::string& pattern, const std::string& name, bool ignore_case = false);

}  // namespace sam2amg
