#include "model/model_file.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/version.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>

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
  const std::string reason = error_line(error).substr(0, 300);
  switch (info.kind) {
    case ModelFileKind::kMissing:
      return "cannot open model file '" + path + "'";
    case ModelFileKind::kNotPyTorch:
      return "'" + path + "' is not a PyTorch file (neither a TorchScript archive nor a checkpoint); --model takes "
             "a TorchScript export of a SAM 2 checkpoint (scripts/export_sam2.py, docs/model-contract.md)";
    case ModelFileKind::kLegacyPickle:
    case ModelFileKind::kCheckpoint:
      return "'" + path + "' is a PyTorch checkpoint (torch.save), not a sam2-amg export: --model takes a " +
             "TorchScript export. Export it once, on a machine with the sam2 Python package (torch >= 2.5.1): " +
             export_command(path) + " (add --device cuda to run it on a GPU; README, \"Models\")";
    case ModelFileKind::kTorchScript:
      break;
  }
  std::string msg = "cannot load '" + path + "' as TorchScript";
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
