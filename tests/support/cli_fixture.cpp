// CliFixture (support/fixtures.h): built into the executables that link the io layer (test_cli,
// test_pipeline), as it writes images with it.
#include <filesystem>
#include <fstream>

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

void CliFixture::add_image(const std::string& name) const { add_image(name, two_object_image()); }

void CliFixture::add_images(const std::vector<std::string>& names) const {
  for (const std::string& name : names) add_image(name);
}

int CliFixture::bash(const std::string& script, const std::string& name) const {
  const std::string file = dir.file(name);
  std::ofstream(file) << "cd '" << dir.path() << "' || exit 99\n" << script << "\n";
  return run_command("bash " + file);
}

std::string CliFixture::wait_for_lines(const std::string& file, int lines) {
  return "while [ \"$(cat " + file + " 2>/dev/null | wc -l)\" -lt " + std::to_string(lines) +
         " ] && kill -0 $pid 2>/dev/null; do sleep 0.02; done";
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
