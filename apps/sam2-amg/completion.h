#pragma once
/// Shell completion generated from the parsed command-line surface (itself generated from the
/// parameter tables), so a new parameter completes without anyone listing it.
#include <CLI/CLI.hpp>

#include <string>

#include "cli.h"

namespace sam2amg::cli {

/// A bash completion script for `app`: every flag of the app and of each subcommand (after the
/// subcommand's name), the subcommands, the values of word-valued options (`state.choices`),
/// and file names for the other options that take a value.
std::string bash_completion(const CLI::App& app, const CliState& state);

}  // namespace sam2amg::cli
