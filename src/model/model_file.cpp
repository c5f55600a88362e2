#include "model/model_file.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <vector>
#include <filesystem>
#include <fstream>

#include "common/printable.h"
#include "model/torch_errors.h"

namespace sam2amg {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return s;
}

bool contains(const std::string& s, const char* part) { return s.find(part) != std::string::npos; }

std::string linked_libtorch() {
  return std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR);
}

std::string export_command(const std::string& path) {
  const std::string config = export_config_for(path);
  const std::string stem = std::filesystem::path(path).stem().string();
  std::string cmd = "python3 scripts/export_sam2.py --checkpoint " + path + " --config " +
                    (config.empty() ? "<t|s|b+|l>" : config) + " --out " + stem + ".sam2amg.pt";
  // An export that keeps scaled_dot_product_attention needs LibTorch 2.x to load.
  if (TORCH_VERSION_MAJOR < 2) cmd += " --attention math";
  return cmd;
}

}  // namespace

ModelFileInfo inspect_model_file(const std::string& path) {
  ModelFileInfo info;
  std::ifstream in(path, std::ios::binary);
  if (!in) return info;
  char magic[4] = {0, 0, 0, 0};
  in.read(magic, 4);
  if (in.gcount() == 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) {
    info.kind = ModelFileKind::kTorchScript;
  } else if (in.gcount() >= 2 && static_cast<unsigned char>(magic[0]) == 0x80 && magic[1] >= 2 && magic[1] <= 5) {
    info.kind = ModelFileKind::kLegacyPickle;  // pickle PROTO opcode, protocol 2..5
    return info;
  } else {
    info.kind = ModelFileKind::kNotPyTorch;
    return info;
  }
  try {
    caffe2::serialize::PyTorchStreamReader reader(path);
    info.file_format_version = static_cast<long>(reader.version());
    // torch.save writes data.pkl and tensors only; a TorchScript archive has code and constants.
    bool code = false;
    for (const std::string& name : reader.getAllRecords())
      if (name.rfind("code/", 0) == 0) code = true;
    if (!code && !reader.hasRecord("constants.pkl") && reader.hasRecord("data.pkl")) {
      info.kind = ModelFileKind::kCheckpoint;
      return info;
    }
    if (reader.hasRecord("extra/sam2_amg.json")) {
      auto [data, size] = reader.getRecord("extra/sam2_amg.json");
      const auto meta =
          nlohmann::json::parse(static_cast<const char*>(data.get()), static_cast<const char*>(data.get()) + size,
                                nullptr, /*allow_exceptions=*/false);
      if (meta.is_object()) {
        info.exporter_torch = meta.value("torch_version", "");
        info.attention = meta.value("attention", "");
      }
    }
  } catch (const std::exception&) {
    // A zip this LibTorch cannot read (e.g. a newer file format): the load error says which.
  }
  return info;
}

namespace {

std::uint64_t le(const unsigned char* p, int n) {
  std::uint64_t v = 0;
  for (int i = n - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

std::string model_archive_problem(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(0, std::ios::end);
  const std::uint64_t size = static_cast<std::uint64_t>(in.tellg());
  // The end-of-central-directory record is in the last 64 KiB + 22 bytes (its comment at most 64 KiB).
  const std::uint64_t tail_size = std::min<std::uint64_t>(size, 65536 + 22 + 20);
  std::vector<unsigned char> tail(tail_size);
  in.seekg(static_cast<std::streamoff>(size - tail_size));
  in.read(reinterpret_cast<char*>(tail.data()), static_cast<std::streamsize>(tail_size));
  std::int64_t eocd = -1;
  for (std::int64_t i = static_cast<std::int64_t>(tail_size) - 22; i >= 0 && eocd < 0; --i)
    if (le(&tail[static_cast<size_t>(i)], 4) == 0x06054b50) eocd = i;
  if (eocd < 0) return "";  // not a zip: the loader says what it is
  const unsigned char* e = &tail[static_cast<size_t>(eocd)];
  std::uint64_t entries = le(e + 10, 2), dir_size = le(e + 12, 4), dir_offset = le(e + 16, 4);
  if (eocd >= 20 && le(e - 20, 4) == 0x07064b50) {  // zip64: the real record is elsewhere
    const std::uint64_t at = le(e - 20 + 8, 8);
    unsigned char z[56];
    in.seekg(static_cast<std::streamoff>(at));
    if (!in.read(reinterpret_cast<char*>(z), sizeof z) || le(z, 4) != 0x06064b50) return "a corrupt zip64 directory";
    entries = le(z + 32, 8);
    dir_size = le(z + 40, 8);
    dir_offset = le(z + 48, 8);
  }
  if (dir_offset > size || dir_size > size - dir_offset || entries > dir_size / 46 + 1)
    return "a zip directory that does not fit in the file";
  std::vector<unsigned char> dir(dir_size);
  in.seekg(static_cast<std::streamoff>(dir_offset));
  if (!in.read(reinterpret_cast<char*>(dir.data()), static_cast<std::streamsize>(dir_size)))
    return "a zip directory that cannot be read";
  constexpr std::uint64_t kMaxExtra = std::uint64_t{1} << 20, kSlack = std::uint64_t{64} << 20;
  size_t i = 0;
  for (std::uint64_t k = 0; k < entries; ++k) {
    if (i + 46 > dir.size() || le(&dir[i], 4) != 0x02014b50) return "a corrupt zip directory";
    const unsigned char* c = &dir[i];
    const std::uint64_t method = le(c + 10, 2), name_len = le(c + 28, 2), extra_len = le(c + 30, 2),
                        comment_len = le(c + 32, 2);
    std::uint64_t packed = le(c + 20, 4), unpacked = le(c + 24, 4);
    if (i + 46 + name_len + extra_len + comment_len > dir.size()) return "a corrupt zip directory";
    const std::string name(reinterpret_cast<const char*>(c + 46), name_len);
    // Zip64 sizes: the 0x0001 extra field holds those that are 0xFFFFFFFF, unpacked first.
    for (size_t x = 46 + name_len; x + 4 <= 46 + name_len + extra_len;) {
      const std::uint64_t id = le(c + x, 2), len = le(c + x + 2, 2);
      if (id == 1) {
        size_t at = x + 4;
        if (unpacked == 0xFFFFFFFF && at + 8 <= x + 4 + len) unpacked = le(c + at, 8), at += 8;
        if (packed == 0xFFFFFFFF && at + 8 <= x + 4 + len) packed = le(c + at, 8);
      }
      x += 4 + len;
    }
    if (name.find("/extra/") != std::string::npos && unpacked > kMaxExtra)
      return "extra file '" + printable(name) + "' would inflate to " + std::to_string(unpacked) + " bytes (at most " +
             std::to_string(kMaxExtra) + " allowed)";
    if (method != 0 && unpacked > kSlack + 100 * packed)
      return "entry '" + printable(name) + "' would inflate from " + std::to_string(packed) + " to " + std::to_string(unpacked) +
             " bytes";
    if (method == 0 && unpacked > size) return "entry '" + printable(name) + "' is larger than the file";
    i += 46 + name_len + extra_len + comment_len;
  }
  return "";
}

std::string export_config_for(const std::string& path) {
  const std::string name = lower(std::filesystem::path(path).filename().string());
  std::string size;
  if (contains(name, "large") || contains(name, "hiera_l")) size = "l";
  else if (contains(name, "base_plus") || contains(name, "b+") || contains(name, "base-plus")) size = "b+";
  else if (contains(name, "small") || contains(name, "hiera_s")) size = "s";
  else if (contains(name, "tiny") || contains(name, "hiera_t")) size = "t";
  if (size.empty()) return "";
  // SAM 2.0 checkpoints are named sam2_hiera_*.pt, SAM 2.1 ones sam2.1_hiera_*.pt.
  const bool v20 = name.rfind("sam2_", 0) == 0;
  return v20 ? "2.0-" + size : size;
}

std::string unloadable_model_message(const std::string& path, const std::string& error) {
  const ModelFileInfo info = inspect_model_file(path);
  const std::string shown = printable(path);  // names in messages are escaped
  const std::string reason = error_line(error).substr(0, 300);
  switch (info.kind) {
    case ModelFileKind::kMissing:
      return "cannot open model file '" + shown + "'";
    case ModelFileKind::kNotPyTorch:
      return "'" + shown + "' is not a PyTorch file (neither a TorchScript archive nor a checkpoint); --model takes "
             "a TorchScript export of a SAM 2 checkpoint (scripts/export_sam2.py, docs/model-contract.md)";
    case ModelFileKind::kLegacyPickle:
    case ModelFileKind::kCheckpoint:
      return "'" + shown + "' is a PyTorch checkpoint (torch.save), not a sam2-amg export: --model takes a " +
             "TorchScript export. Export it once, on a machine with the sam2 Python package (torch >= 2.5.1): " +
             export_command(shown) + " (add --device cuda to run it on a GPU; README, \"Models\")";
    case ModelFileKind::kTorchScript:
      break;
  }
  std::string msg = "cannot load '" + shown + "' as TorchScript";
  if (!info.exporter_torch.empty()) msg += " (exported by torch " + info.exporter_torch + ")";
  msg += " with this sam2-amg's LibTorch " + linked_libtorch() + ": ";
  const auto op = error.find("Unknown builtin op: ");
  if (op != std::string::npos) {
    std::string name = error_line(error.substr(op + 20));
    if (!name.empty() && name.back() == '.') name.pop_back();
    msg += "the file uses " + name + ", an operator this LibTorch does not have; ";
    if (contains(name, "scaled_dot_product_attention"))
      msg += "re-export it with scripts/export_sam2.py --attention math (loads in LibTorch 1.13, as in Debian 12), "
             "or use a sam2-amg built on LibTorch 2.x";
    else
      msg += "re-export it with the torch version this sam2-amg links, or build sam2-amg on the LibTorch of the "
             "exporting torch";
    return msg;
  }
  msg += reason;
  if (contains(error, "kMaxSupportedFileFormatVersion") || contains(error, "file format version"))
    msg += ". The file was written by a newer PyTorch than this LibTorch reads: re-export it with torch " +
           linked_libtorch() + ", or build sam2-amg on a newer LibTorch";
  return msg;
}

}  // namespace sam2amg
