#pragma once
/// Where and in which precision the model runs, as the options spell them (--device,
/// --precision). Torch-free: the model layer maps them to LibTorch's types.
#include <optional>
#include <string>

#include "common/enum_names.h"
#include "common/error.h"

namespace sam2amg {

/// The kinds of --device; cuda takes an optional index (cuda:N).
enum class DeviceKind {
  kAuto,  ///< CUDA when available, else the CPU
  kCpu,
  kCuda,
};

constexpr EnumNames<DeviceKind, 3> enum_names(DeviceKind) {
  return {"device", {{{DeviceKind::kAuto, "auto"}, {DeviceKind::kCpu, "cpu"}, {DeviceKind::kCuda, "cuda"}}}};
}

/// A device spelling: auto, cpu, cuda or cuda:N (cpu:0 names the CPU too). Open-ended because
/// of N, so a kind and an index rather than a plain enum.
class Device {
 public:
  Device() = default;
  /// Parses `spelling`; implicit, so a device can be given as its spelling. An unknown device
  /// is a ModelError (exit 3), as when the model is loaded on it.
  Device(const std::string& spelling) {  // NOLINT(google-explicit-constructor)
    const size_t colon = spelling.find(':');
    const std::optional<DeviceKind> kind = enum_from_name<DeviceKind>(spelling.substr(0, colon));
    bool ok = kind.has_value();
    if (ok && colon != std::string::npos) {
      const std::string digits = spelling.substr(colon + 1);
      ok = *kind != DeviceKind::kAuto && !digits.empty() && digits.size() <= 3 &&
           digits.find_first_not_of("0123456789") == std::string::npos;
      if (ok) index_ = std::stoi(digits);
      ok = ok && index_ <= 127 && (*kind != DeviceKind::kCpu || index_ == 0);
    }
    if (!ok) throw ModelError("invalid device '" + spelling + "': use auto, cpu, cuda or cuda:N");
    kind_ = *kind;
  }
  Device(const char* spelling) : Device(std::string(spelling)) {}  // NOLINT(google-explicit-constructor)

  DeviceKind kind() const { return kind_; }
  /// The index after the colon; -1 when none was given.
  int index() const { return index_; }
  /// The spelling: "auto", "cpu", "cuda", "cuda:1".
  std::string str() const {
    return std::string(enum_name(kind_)) + (index_ >= 0 ? ":" + std::to_string(index_) : "");
  }

  friend bool operator==(const Device& a, const Device& b) { return a.kind_ == b.kind_ && a.index_ == b.index_; }
  friend bool operator!=(const Device& a, const Device& b) { return !(a == b); }

 private:
  DeviceKind kind_ = DeviceKind::kAuto;
  int index_ = -1;
};

/// --precision: the model file's own, or one it must have been exported in.
enum class Precision {
  kAuto,  ///< the model file's precision
  kFp32,
  kBf16,
  kFp16,
};

constexpr EnumNames<Precision, 4> enum_names(Precision) {
  return {"precision",
          {{{Precision::kAuto, "auto"}, {Precision::kFp32, "fp32"}, {Precision::kBf16, "bf16"},
            {Precision::kFp16, "fp16"}}}};
}

/// --decoder: which code decodes the prompts (the image encoder is always the export's graph).
enum class Decoder {
  kAuto,    ///< native on the CPU where the export allows it; the export's graphs elsewhere
  kExport,  ///< the export's own graphs: an exact export decodes with the reference's arithmetic
  kNative,  ///< sam2-amg's own decoder over the export's weights (the CPU only)
};

constexpr EnumNames<Decoder, 3> enum_names(Decoder) {
  return {"decoder", {{{Decoder::kAuto, "auto"}, {Decoder::kExport, "export"}, {Decoder::kNative, "native"}}}};
}

}  // namespace sam2amg
