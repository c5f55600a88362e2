// CLI basics: --version, bash completion, --dry-run, --glob-ignore-case, merge --help, the SAM 1
// spelling of --out-dir, and "did you mean" for unknown flags.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "amg/amg_config.h"
#include "io/image_reader.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

std::string output_of(const std::string& command, const std::string& file) {
  run_command(command + " > " + file + " 2>&1");
  return slurp(file);
}

// The flags a help text lists: the first column of its option lines ("  -m,--model TEXT ...").
std::set<std::string> help_flags(const std::string& help) {
  std::set<std::string> flags;
  std::istringstream in(help);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("  -", 0) != 0) continue;
    std::string names = line.substr(2, line.find(' ', 2) - 2);
    std::stringstream ss(names);
    for (std::string name; std::getline(ss, name, ',');) flags.insert(name.substr(0, name.find('{')));
  }
  return flags;
}

// What the generated completion offers for the words typed so far (the last one is completed).
std::set<std::string> complete(const std::string& script, const std::vector<std::string>& words, const TempDir& dir) {
  std::string array;
  for (const std::string& w : words) array += " '" + w + "'";
  std::ofstream(dir.file("complete.sh")) << "source " << script << "\nCOMP_WORDS=(sam2-amg" << array
                                         << ")\nCOMP_CWORD=" << words.size() << "\n_sam2_amg\n"
                                         << "printf '%s\\n' \"${COMPREPLY[@]}\"\n";
  const std::string out = output_of("bash " + dir.file("complete.sh"), dir.file("complete.txt"));
  std::set<std::string> words_out;
  std::istringstream in(out);
  for (std::string w; std::getline(in, w);)
    if (!w.empty()) words_out.insert(w);
  return words_out;
}

// Every file and folder under `root` with its size and modification time.
std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> tree(const std::string& root) {
  std::map<std::string, std::pair<std::uintmax_t, fs::file_time_type>> t;
  for (const auto& e : fs::recursive_directory_iterator(root))
    t[e.path().string()] = {e.is_regular_file() ? e.file_size() : 0, e.last_write_time()};
  return t;
}

}  // namespace

TEST_CASE("The version line: version, git revision, LibTorch", "[cli][version]") {
  TempDir dir;
  const std::string out = output_of(cli_binary() + " --version", dir.file("v.txt"));
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex(R"(^sam2-amg \d+\.\d+\.\d+ \(git ([0-9a-f]{12}(-dirty)?|unknown)\)\n)")));
  CHECK(std::regex_search(out, std::regex(R"(\nLibTorch \d+\.\d+)")));
  // A revision names a commit of this source tree.
  const std::string hash = m[1].str().substr(0, 12);
  if (hash != "unknown")
    CHECK(run_command("git -C " + std::string(SAM2AMG_SOURCE_DIR) + " cat-file -e " + hash + "^{commit}") == 0);
}

TEST_CASE("The git revision is the project's own, else unknown", "[cli][version]") {
  TempDir dir;
  const std::string script = std::string(SAM2AMG_SOURCE_DIR) + "/cmake/git_revision.cmake";
  auto revision = [&](const std::string& source) {
    std::string r = output_of("cmake -DSOURCE_DIR=" + source + " -P " + script, dir.file("rev.txt"));
    return r.substr(0, r.find('\n'));
  };
  // Not a checkout (a tarball): unknown.
  fs::create_directories(dir.file("tarball"));
  CHECK(revision(dir.file("tarball")) == "unknown");
  // A checkout: its commit.
  const std::string repo = dir.file("repo"), git = "git -C " + dir.file("repo");
  fs::create_directories(repo + "/unpacked");
  std::ofstream(repo + "/f.txt") << "x";
  REQUIRE(run_command(git + " init -q && " + git + " add f.txt && " + git +
                      " -c user.name=t -c user.email=t@t commit -q -m c") == 0);
  const std::string head = output_of(git + " rev-parse --short=12 HEAD", dir.file("head.txt"));
  CHECK(revision(repo) == head.substr(0, 12));
  // A tarball unpacked inside some other repository does not take that repository's commit.
  CHECK(revision(repo + "/unpacked") == "unknown");
}

TEST_CASE("Bash completion lists every flag --help lists, for the run and each subcommand", "[cli][completion]") {
  TempDir dir;
  const std::string script = dir.file("sam2-amg.bash");
  REQUIRE(run_command(cli_binary() + " completion bash > " + script) == 0);
  for (const std::string sub : {"", "tune", "bench", "merge", "make-synthetic-model", "completion"}) {
    INFO("subcommand: " << sub);
    const std::set<std::string> listed = help_flags(output_of(cli_binary() + " " + sub + " --help", dir.file("h.txt")));
    REQUIRE(listed.size() > (sub.empty() ? 40u : 1u));
    std::vector<std::string> words;
    if (!sub.empty()) words.push_back(sub);
    words.push_back("-");
    const std::set<std::string> offered = complete(script, words, dir);
    for (const std::string& flag : listed) {
      INFO(flag);
      CHECK(offered.count(flag) == 1);
    }
  }
  // Every parameter of the table, whatever it holds: a new parameter completes without a list.
  const std::set<std::string> all = complete(script, {"-"}, dir);
  for_each_amg_param([&](const char* name, auto, const char*) {
    std::string kebab = name;
    for (char& c : kebab)
      if (c == '_') c = '-';
    CHECK(all.count("--" + kebab) == 1);
  });
  // Prefixes, word-valued options, subcommands.
  CHECK(complete(script, {"--points-per"}, dir) == std::set<std::string>{"--points-per-side", "--points-per-batch"});
  CHECK(complete(script, {"--output-mode", ""}, dir) ==
        std::set<std::string>{"binary_mask", "uncompressed_rle", "coco_rle"});
  CHECK(complete(script, {"me"}, dir) == std::set<std::string>{"merge"});
  CHECK(complete(script, {"completion", ""}, dir) == std::set<std::string>{"bash"});
  // The build generates the file that `make install` puts into bash-completion's folder.
  const fs::path built = fs::path(cli_binary()).parent_path() / "sam2-amg.bash";
  REQUIRE(fs::exists(built));
  CHECK(slurp(built.string()) == slurp(script));
}

TEST_CASE("Dry run: lists inputs and outputs, loads the model, writes nothing", "[cli][dry-run]") {
  CliFixture f;
  const TempDir& dir = f.dir;
  // Everything the run could touch lives under work/ (the model too); the listings go beside it.
  const std::string work = dir.file("work"), images = work + "/in";
  fs::create_directories(images);
  f.own_model("work/m.pt");
  const std::string model = f.model;
  write_image_rgb(images + "/a.png", make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  write_image_rgb(images + "/b.jpg", make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  write_image_rgb(images + "/C.JPG", make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  const std::string base = cli_binary() + " --dry-run --model " + model + " --input " + images;
  const std::string outs = " --out " + work + "/new/sub/m.json --out-dir " + work + "/od --jsonl " + work +
                           "/j.jsonl --overlay-dir " + work + "/ov";
  const auto before = tree(work);
  const std::string listing = output_of(base + outs, dir.file("dry.txt"));
  INFO(listing);
  CHECK(listing.find("dry run: nothing written") != std::string::npos);
  for (const std::string& name : {"a.png", "b.jpg", "C.JPG", "new/sub/m.json", "/od", "j.jsonl", "ov/a.overlay.png"})
    CHECK(listing.find(name) != std::string::npos);
  CHECK(listing.find("synthetic") != std::string::npos);  // the model was loaded
  // Failures are the run's, with its exit codes, and write nothing either.
  CHECK(run_command(base + " --out " + model + " 2>/dev/null") == 2);  // exists, no --resume/--overwrite
  CHECK(run_command(base + " --out " + images + "/a.png 2>/dev/null") == 2);  // an input
  std::ofstream(dir.file("file")) << "x";
  CHECK(run_command(base + " --out " + dir.file("file/m.json") + " 2>/dev/null") == 5);  // not a folder
  CHECK(run_command(cli_binary() + " --dry-run --model " + images + "/a.png --input " + images + " --out " + work +
                    "/m.json 2>/dev/null") == 3);  // not a model
  CHECK(tree(work) == before);

  // --glob is case-sensitive unless asked otherwise.
  const std::string jpg = output_of(base + " --out " + work + "/m.json --glob '*.jpg'", dir.file("g1.txt"));
  CHECK(jpg.find("b.jpg") != std::string::npos);
  CHECK(jpg.find("C.JPG") == std::string::npos);
  const std::string any_case =
      output_of(base + " --out " + work + "/m.json --glob '*.jpg' --glob-ignore-case", dir.file("g2.txt"));
  CHECK(any_case.find("b.jpg") != std::string::npos);
  CHECK(any_case.find("C.JPG") != std::string::npos);
  CHECK(any_case.find("a.png") == std::string::npos);
}

TEST_CASE("make-synthetic-model writes the synthetic model the tests use", "[cli][synthetic]") {
  // The subcommand's own test: the other CLI tests take the model from CliFixture.
  TempDir dir;
  const std::string written = dir.file("sub/synthetic.pt");
  CHECK(run_command(cli_binary() + " make-synthetic-model " + written + " 2> " + dir.file("e.txt")) == 5);
  CHECK(slurp(dir.file("e.txt")).find("sub/synthetic.pt") != std::string::npos);  // no such folder: named
  fs::create_directories(dir.file("sub"));
  REQUIRE(run_command(cli_binary() + " make-synthetic-model " + written + " 2>/dev/null") == 0);
  CHECK(slurp(written) == slurp(synthetic_model_path()));
  // And it segments: the two rectangles and the background of the fixture's image.
  CliFixture f;
  f.add_image("a.png");
  const CliResult r = f.capture(f.command_with_model(written, "-q --input " + f.images + " --jsonl -"));
  REQUIRE(r.rc == 0);
  CHECK(r.out.find("\"type\":\"image\"") != std::string::npos);
  size_t masks = 0;
  for (size_t at = r.out.find("\"segmentation\""); at != std::string::npos; at = r.out.find("\"segmentation\"", at + 1))
    ++masks;
  CHECK(masks == 3);
}

TEST_CASE("merge --help lists the options merge uses", "[cli]") {
  TempDir dir;
  const std::string help = output_of(cli_binary() + " merge --help", dir.file("h.txt"));
  for (const char* flag : {"--out ", "--out-dir", "--shard-count", "--quiet"}) {
    INFO(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
}

TEST_CASE("Unknown flags get the closest name, -o is gone, --output is SAM 1's folder", "[cli]") {
  TempDir dir;
  const std::string typo = output_of(cli_binary() + " --pred-iou-tresh 0.5 --print-config", dir.file("e.txt"));
  CHECK(typo.find("unknown flag '--pred-iou-tresh'; did you mean '--pred-iou-thresh'?") != std::string::npos);
  CHECK(run_command(cli_binary() + " --pred-iou-tresh 0.5 --print-config 2>/dev/null") == 2);
  CHECK(run_command(cli_binary() + " tune --overlay-row 1 --print-config 2>" + dir.file("t.txt")) == 2);
  CHECK(slurp(dir.file("t.txt")).find("did you mean '--overlay-rows'?") != std::string::npos);
  // Far from every flag: no guess.
  CHECK(output_of(cli_binary() + " --zzzzzzzzzzzz", dir.file("z.txt")).find("did you mean") == std::string::npos);
  // -o would read as --output: it is refused with what to use instead.
  const std::string o = output_of(cli_binary() + " -o m.json --print-config", dir.file("o.txt"));
  CHECK(o.find("--out F.json") != std::string::npos);
  // --output is --out-dir, and --help says so.
  const std::string printed = output_of(cli_binary() + " --output folder --print-config", dir.file("p.txt"));
  CHECK(printed.find("\nout_dir: \"folder\"\n") != std::string::npos);
  const std::string help = output_of(cli_binary() + " --help", dir.file("h.txt"));
  CHECK(help.find("-o,") == std::string::npos);
  CHECK(help.find("--output is SAM 1 amg.py's name for this folder") != std::string::npos);
}
