// CliFixture (support/fixtures.h): built into test_cli only, as it writes images with the io layer.
#include <filesystem>

#include "io/image_reader.h"
#include "support/fixtures.h"

namespace sam2amg::test {

namespace fs = std::filesystem;

CliFixture::CliFixture() { fs::create_directory(images); }

void CliFixture::add_image(const std::string& name, const ImageU8& image) const {
  const fs::path path = fs::path(images) / name;
  fs::create_directories(path.parent_path());
  write_image_rgb(path.string(), image);
}

void CliFixture::add_image(const std::string& name) const {
  add_image(name, make_image(64, 48, kBlack, {{4, 4, 30, 20, kRed}, {20, 28, 60, 44, kBlue}}));
}

const std::string& CliFixture::own_model(const std::string& name) {
  const std::string copy = dir.file(name);
  fs::copy_file(synthetic_model_path(), copy, fs::copy_options::overwrite_existing);
  model = copy;
  return model;
}

std::string CliFixture::command(const std::string& args) const { return command(args, points_per_side); }

std::string CliFixture::command(const std::string& args, int pps) const {
  return cli_binary() + (flags.empty() ? "" : " " + flags) + " --model " + model + " --device " + device +
         " --points-per-side " + std::to_string(pps) + " " + args;
}

std::string CliFixture::command_with_model(const std::string& model_path, const std::string& args) const {
  return cli_binary() + (flags.empty() ? "" : " " + flags) + " --model " + model_path + " --device " + device +
         " --points-per-side " + std::to_string(points_per_side) + " " + args;
}

CliResult CliFixture::capture(const std::string& command_line) const {
  const std::string out = captured_.file("stdout.txt"), err = captured_.file("stderr.txt");
  CliResult r;
  r.rc = run_command("(" + command_line + ") > " + out + " 2> " + err);
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

}  // namespace sam2amg::test
