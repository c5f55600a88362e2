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
  std::string key{};  ///< canonical path, for de-duplication (empty when not computed)
  bool operator==(const InputFile& o) const { return path == o.path; }
};

/// An input (or a folder entry) that could not be used, and why.
struct UnreadableInput {
  std::string path;
  std::string reason;
};

/// Expands io.input (files, folders, "-" for paths on stdin) and io.input_list into a sorted,
/// de-duplicated list; folders give their image files (sub-folders with io.recursive), filtered
/// by io.glob (io.glob_ignore_case: either case). Explicit files are kept whatever their extension.
/// Folder entries that cannot be used are appended to `skipped` (when given) with their reason:
/// dangling symbolic links and link loops whose name would be an input, and, with io.recursive,
/// sub-folders that cannot be listed and links to folders (not followed). Throws UsageError for a
/// path that does not exist or a folder input that cannot be listed.
std::vector<InputFile> collect_inputs(const IoOptions& io, std::vector<UnreadableInput>* skipped = nullptr);

/// The paths of a list (standard input for `--input -`, an `--input-list` file): separated by NUL
/// when the text holds one (`find -print0`; names then keep every other byte, newlines too), else
/// one per line (a trailing CR dropped, empty lines skipped, and with `comments` lines starting
/// with '#'). A NUL never ends up inside a path.
std::vector<std::string> split_path_list(const std::string& text, bool comments);

/// Shell-style match of a file name against a pattern with * and ?; with `ignore_case`, ASCII
/// letters match either case ("*.jpg" takes "IMG_1.JPG").
bool glob_match(const std::string& pattern, const std::string& name, bool ignore_case = false);

}  // namespace sam2amg
