#include "io/inputs.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <set>

#include "common/error.h"
#include "common/printable.h"
#include "io/run_config.h"

namespace sam2amg {

namespace fs = std::filesystem;

namespace {

std::string lower_ext(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  return ext;
}

}  // namespace

bool has_image_extension(const std::string& path) {
  const std::string ext = lower_ext(path);
  for (const char* e : {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm", ".pnm"})
    if (ext == e) return true;
  return false;
}

bool glob_match(const std::string& pattern, const std::string& name, bool ignore_case) {
  auto same = [ignore_case](char a, char b) {
    if (!ignore_case) return a == b;
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  // Iterative wildcard match with backtracking to the last '*'.
  size_t p = 0, n = 0, star = std::string::npos, mark = 0;
  while (n < name.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || same(pattern[p], name[n]))) {
      ++p;
      ++n;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = n;
    } else if (star != std::string::npos) {
      p = star + 1;
      n = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

namespace {

// Lists `dir` (a folder under the folder input `root`) into `out`; what cannot be used goes to
// `skipped`. Links to folders are not followed: a link back up would loop.
void list_folder(const fs::path& root, const fs::path& dir, bool recursive,
                 const std::function<bool(const fs::path&)>& keep, std::vector<InputFile>& out,
                 std::vector<UnreadableInput>& skipped) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    if (dir == root) throw UsageError("cannot list input folder '" + printable(root.string()) + "': " + ec.message());
    skipped.push_back({dir.string(), "cannot list the folder: " + ec.message()});
    return;
  }
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    const fs::directory_entry& e = *it;
    std::error_code sec, lec;
    const fs::file_status st = e.status(sec);  // follows links
    const bool link = e.is_symlink(lec);
    if (!fs::exists(st)) {
      if (link && keep(e.path()))
        skipped.push_back({e.path().string(), sec.value() == ELOOP ? "symbolic link loop" : "dangling symbolic link"});
      continue;
    }
    if (fs::is_directory(st)) {
      if (!recursive) continue;
      if (link) {
        skipped.push_back({e.path().string(), "link to a folder, not followed"});
        continue;
      }
      list_folder(root, e.path(), recursive, keep, out, skipped);
    } else if (fs::is_regular_file(st) && keep(e.path())) {
      // Names are lexical (a symlinked file keeps its name inside the folder), never "..".
      out.push_back({e.path().string(), e.path().lexically_relative(root).generic_string(), ""});
    }
  }
  if (ec) skipped.push_back({dir.string(), "listing the folder failed: " + ec.message()});
}

}  // namespace

std::vector<InputFile> collect_inputs(const IoOptions& io, std::vector<UnreadableInput>* skipped) {
  std::vector<std::string> roots;
  for (const std::string& p : io.input) {
    if (p != "-") {
      roots.push_back(p);
      continue;
    }
    for (std::string line; std::getline(std::cin, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();  // CRLF lists
      if (!line.empty()) roots.push_back(line);
    }
  }
  if (!io.input_list.empty()) {
    std::ifstream list(io.input_list);
    if (!list) throw UsageError("cannot open input list '" + printable(io.input_list) + "'");
    for (std::string line; std::getline(list, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty() && line[0] != '#') roots.push_back(line);
    }
  }
  std::vector<InputFile> out;
  std::vector<UnreadableInput> skipped_here;
  const std::function<bool(const fs::path&)> keep = [&](const fs::path& file) {
    const std::string name = file.filename().string();
    return has_image_extension(name) && (io.glob.empty() || glob_match(io.glob, name, io.glob_ignore_case));
  };
  for (const std::string& root : roots) {
    std::error_code ec;
    if (fs::is_directory(root, ec)) {
      list_folder(root, root, io.recursive, keep, out, skipped_here);
    } else if (fs::exists(root, ec)) {
      out.push_back({root, fs::path(root).filename().string(), ""});
    } else {
      throw UsageError("input '" + printable(root) + "' does not exist");
    }
  }
  // Never filesystem order: runs must be reproducible. The same file reached twice (a/x.png and
  // ./a/x.png) counts once.
  for (InputFile& in : out) {
    std::error_code cec;
    const fs::path canon = fs::weakly_canonical(in.path, cec);
    in.key = cec ? in.path : canon.string();
  }
  std::sort(out.begin(), out.end(), [](const InputFile& a, const InputFile& b) { return a.path < b.path; });
  std::vector<InputFile> unique;
  std::set<std::string> seen;
  for (InputFile& in : out)
    if (seen.insert(in.key).second) unique.push_back(std::move(in));
  if (skipped) {
    std::sort(skipped_here.begin(), skipped_here.end(),
              [](const UnreadableInput& a, const UnreadableInput& b) { return a.path < b.path; });
    skipped->insert(skipped->end(), skipped_here.begin(), skipped_here.end());
  }
  return unique;
}

}  // namespace sam2amg
