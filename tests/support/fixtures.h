#pragma once
/// Test fixtures: temporary folders, palette images with known objects, the synthetic model, and
/// the CLI tests' fixture (CliFixture).
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "amg/rle_host.h"
#include "common/image.h"

namespace sam2amg::test {

/// A fresh folder under the system temp dir, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

using Rgb = std::array<std::uint8_t, 3>;
inline constexpr Rgb kBlack{0, 0, 0}, kRed{255, 0, 0}, kGreen{0, 255, 0}, kBlue{0, 0, 255},
    kWhite{255, 255, 255}, kYellow{255, 255, 0};

/// A filled rectangle [x0, x1) x [y0, y1).
struct Rect {
  int x0, y0, x1, y1;
  Rgb colour;
};

/// An image of `background` with `rects` drawn in order (later ones on top).
ImageU8 make_image(int width, int height, Rgb background, const std::vector<Rect>& rects);

/// The RLE of all pixels of `colour` in `image`: the synthetic model's answer for that colour.
Rle colour_mask(const ImageU8& image, Rgb colour);

/// The 64x48 image of a red and a blue rectangle on black (3 masks at 8 points per side), the red
/// one moved right by `shift` pixels.
ImageU8 two_object_image(int shift = 0);

/// The 256x256 scene used across tests: black background, red, green, blue, white rectangles.
ImageU8 four_object_scene();

/// Device for model and pipeline tests: $SAM2AMG_TEST_DEVICE (e.g. "cuda"), else "cpu".
std::string test_device();

/// Path of a synthetic model written once per test process (write_synthetic_model).
const std::string& synthetic_model_path();

/// Intersection over union of two RLE masks of the same size.
double rle_iou(const Rle& a, const Rle& b);

/// Runs a shell command, returns its exit status.
int run_command(const std::string& command);

/// The sam2-amg binary under test (SAM2AMG_BIN, set by CTest).
std::string cli_binary();

/// A file's bytes.
std::string slurp(const std::string& path);

/// What one command line did: its exit status and what it printed.
struct CliResult {
  int rc = -1;
  std::string out;  ///< standard output
  std::string err;  ///< standard error
};

/// The fixture of every test that runs the binary (tests/cli/*, and tests/model's runs; defined in
/// support/cli_fixture.cpp, which test_cli and test_pipeline build, as it writes images with the
/// io layer): a fresh folder, the synthetic model, a folder of input images and the binary's
/// command lines. Derive a test's dataset from it, or use it as it is:
///
///   CliFixture f;                                   // f.dir, f.model, f.images (= f.file("in"))
///   f.add_image("a.png");                           // the 64x48 two-object image
///   f.add_image("sub/b.png", make_image(...));      // any image (folders are created)
///   const CliResult r = f.run("--input " + f.images + " --out " + f.file("m.json"));
///   CHECK(r.rc == 0);                               // r.out, r.err: what it printed
///   f.run_binary("merge --out " + f.file("m.json")); // the binary with only these arguments
///   f.bash(f.command("...") + " & pid=$!; " + CliFixture::wait_for_lines(journal, 1) + "; kill $pid");
///
/// command(args) is `<sam2-amg> <flags> --model <model> --device <device> --points-per-side <n>
/// <args>`, with the members below as set by the test. The model is synthetic_model_path(),
/// written once per test process and shared: a test that changes the model file takes its own
/// copy (own_model()).
class CliFixture {
 public:
  CliFixture();

  TempDir dir;
  std::string model = synthetic_model_path();
  std::string images = dir.file("in");  ///< created, empty
  std::string flags;                    ///< before --model, e.g. "-q --progress none"
  std::string device = test_device();
  int points_per_side = 8;

  std::string file(const std::string& name) const { return dir.file(name); }
  /// Writes `image` as a PNG at `images`/`name` (an absolute `name` as it is), creating its folders.
  void add_image(const std::string& name, const ImageU8& image) const;
  /// two_object_image() at `name`.
  void add_image(const std::string& name) const;
  /// two_object_image() at each of `names`.
  void add_images(const std::vector<std::string>& names) const;
  /// A copy of the synthetic model at dir/`name`, which the test may change; `model` becomes it.
  const std::string& own_model(const std::string& name = "synthetic.pt");

  /// The command line of a run (see above); `model_path` and `points_per_side` replace the members'.
  std::string command(const std::string& args) const;
  std::string command(const std::string& args, int points_per_side) const;
  std::string command_with_model(const std::string& model_path, const std::string& args) const;
  /// Runs `command_line` in the shell, standard output and error captured.
  CliResult capture(const std::string& command_line) const;
  /// capture(command(args)).
  CliResult run(const std::string& args) const { return capture(command(args)); }
  /// The binary with `args` only (no model, device or points), e.g. "--version", "merge ...".
  CliResult run_binary(const std::string& args) const { return capture(cli_binary() + " " + args); }
  /// Writes `script` to dir/`name` and runs it with bash in `dir`; returns its exit status.
  int bash(const std::string& script, const std::string& name = "script.sh") const;
  /// Shell: wait until `file` (a run's journal) holds `lines` lines or the run started in the
  /// background as $pid has ended.
  static std::string wait_for_lines(const std::string& file, int lines);

 private:
  TempDir captured_;  // capture()'s files, outside `dir`
};

}  // namespace sam2amg::test
