#pragma once
/// Options whose values are words (exif: apply, output_mode: coco_rle, ...): one table of names
/// per enum, and one parse/print pair for all of them. The YAML loader, the command line and
/// --print-config go through these functions, so a spelling exists in exactly one place.
///
/// An enum takes part by declaring, next to it and in its namespace, a function found by
/// argument-dependent lookup:
///
///     constexpr EnumNames<Exif, 2> enum_names(Exif) {
///       return {"exif", {{{Exif::kApply, "apply"}, {Exif::kIgnore, "ignore"}}}};
///     }
///
/// `key` is the option's name in messages; the values are listed in documentation order.
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/error.h"

namespace sam2amg {

template <typename E, std::size_t N>
struct EnumNames {
  const char* key;
  std::array<std::pair<E, const char*>, N> values;
};

/// True for the enums that declare enum_names().
template <typename E, typename = void>
struct has_enum_names : std::false_type {};
template <typename E>
struct has_enum_names<E, std::void_t<decltype(enum_names(E{}))>> : std::true_type {};
template <typename E>
inline constexpr bool has_enum_names_v = has_enum_names<E>::value;

/// The option key of enum E ("exif").
template <typename E>
constexpr const char* enum_key() {
  return enum_names(E{}).key;
}

/// The spelling of `value` ("apply").
template <typename E>
const char* enum_name(E value) {
  for (const auto& [v, name] : enum_names(E{}).values)
    if (v == value) return name;
  return "?";  // unreachable for a value of the table
}

/// The value spelled `name`, or nullopt.
template <typename E>
std::optional<E> enum_from_name(std::string_view name) {
  for (const auto& [v, n] : enum_names(E{}).values)
    if (name == n) return v;
  return std::nullopt;
}

/// Every spelling, in documentation order.
template <typename E>
std::vector<std::string> enum_spellings() {
  std::vector<std::string> out;
  for (const auto& entry : enum_names(E{}).values) out.emplace_back(entry.second);
  return out;
}

/// The spellings for a message: "auto, fp32, bf16 or fp16".
template <typename E>
std::string enum_choices() {
  const std::vector<std::string> names = enum_spellings<E>();
  std::string s;
  for (std::size_t i = 0; i < names.size(); ++i)
    s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

/// The value spelled `name`. Throws UsageError "invalid exif = 'x': expected apply or ignore".
template <typename E>
E parse_enum(const std::string& name) {
  if (const std::optional<E> v = enum_from_name<E>(name)) return *v;
  throw UsageError(std::string("invalid ") + enum_key<E>() + " = '" + name + "': expected " + enum_choices<E>());
}

}  // namespace sam2amg
