#pragma once
// What a model file is, read from its bytes and zip directory without loading it, so that a
// file LibTorch cannot load gets a message that says what it is and what to do.

#include <string>

namespace sam2amg {

enum class ModelFileKind {
  kMissing,          // cannot be opened
  kNotPyTorch,       // neither a zip archive nor a pickle
  kLegacyPickle,     // torch.save with the pre-1.6 pickle format
  kCheckpoint,       // torch.save zip (tensors and a pickle, no TorchScript code): e.g. sam2.1_hiera_large.pt
  kTorchScript,      // a TorchScript archive
};

struct ModelFileInfo {
  ModelFileKind kind = ModelFileKind::kMissing;
  long file_format_version = -1;  // the archive's "version" record, when present
  std::string exporter_torch;     // sam2_amg.json "torch_version", when present
  std::string attention;          // sam2_amg.json "attention", when present
};

ModelFileInfo inspect_model_file(const std::string& path);

/// Checks a zip archive's directory before anything is inflated: every entry's declared size
/// against the file's (a compressed entry may not inflate past 64 MiB + 100 x its compressed
/// size) and the extra files (the metadata) at most 1 MiB each. "" when fine or not a zip (the
/// loader's own error then says what it is), else why not.
std::string model_archive_problem(const std::string& path);

/// The --config of scripts/export_sam2.py for an official checkpoint's file name
/// (sam2.1_hiera_large.pt -> "l", sam2_hiera_tiny.pt -> "2.0-t"); empty when the name says nothing.
std::string export_config_for(const std::string& path);

/// The message for a file torch::jit::load refused with `error`: what the file is (an official
/// checkpoint gets the exact export command), which torch wrote it, what this LibTorch is and
/// what to do.
std::string unloadable_model_message(const std::string& path, const std::string& error);

}  // namespace sam2amg
