// CLI basics: --version, bash completion, --dry-run, --glob-ignore-case, merge --help, the SAM 1
// spelling of --out-dir, and "did you mean" for unknown flags.
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "amg/amg_config.h"
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

// What the binary prints for `args`, standard output and error together.
std::string printed_by(const CliFixture& f, const std::string& args) { return f.run_binary(args + " 2>&1").out; }

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
  CliFixture f;
  const std::string out = printed_by(f, "--version");
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
  CliFixture f;
  const TempDir& dir = f.dir;
  const std::string script = dir.file("sam2-amg.bash");
  REQUIRE(f.run_binary("completion bash > " + script).rc == 0);
  for (const std::string sub : {"", "tune", "bench", "merge", "make-synthetic-model", "completion"}) {
    INFO("subcommand: " << sub);
    const std::set<std::string> listed = help_flags(printed_by(f, sub + " --help"));
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
  for (const char* name : {"/a.png", "/b.jpg", "/C.JPG"})
    f.add_image(images + name, make_image(32, 24, kBlack, {{4, 4, 20, 20, kRed}}));
  const std::string base = "--dry-run --model " + model + " --input " + images;
  const std::string outs = " --out " + work + "/new/sub/m.json --out-dir " + work + "/od --jsonl " + work +
                           "/j.jsonl --overlay-dir " + work + "/ov";
  const auto before = tree(work);
  const std::string listing = printed_by(f, base + outs);
  INFO(listing);
  CHECK(listing.find("dry run: nothing written") != std::string::npos);
  for (const std::string& name : {"a.png", "b.jpg", "C.JPG", "new/sub/m.json", "/od", "j.jsonl", "ov/a.overlay.png"})
    CHECK(listing.find(name) != std::string::npos);
  CHECK(listing.find("synthetic") != std::string::npos);  // the model was loaded
  // Failures are the run's, with its exit codes, and write nothing either.
  CHECK(f.run_binary(base + " --out " + model).rc == 2);              // exists, no --resume/--overwrite
  CHECK(f.run_binary(base + " --out " + images + "/a.png").rc == 2);  // an input
  std::ofstream(dir.file("file")) << "x";
  CHECK(f.run_binary(base + " --out " + dir.file("file/m.json")).rc == 5);  // not a folder
  CHECK(f.run_binary("--dry-run --model " + images + "/a.png --input " + images + " --out " + work + "/m.json").rc ==
        3);  // not a model
  CHECK(tree(work) == before);

  // --glob is case-sensitive unless asked otherwise.
  const std::string jpg = printed_by(f, base + " --out " + work + "/m.json --glob '*.jpg'");
  CHECK(jpg.find("b.jpg") != std::string::npos);
  CHECK(jpg.find("C.JPG") == std::string::npos);
  const std::string any_case = printed_by(f, base + " --out " + work + "/m.json --glob '*.jpg' --glob-ignore-case");
  CHECK(any_case.find("b.jpg") != std::string::npos);
  CHECK(any_case.find("C.JPG") != std::string::npos);
  CHECK(any_case.find("a.png") == std::string::npos);
}

TEST_CASE("make-synthetic-model writes the synthetic model the tests use", "[cli][synthetic]") {
  // The subcommand's own test: the other CLI tests take the model from CliFixture.
  CliFixture f;
  const std::string written = f.file("sub/synthetic.pt");
  const CliResult no_folder = f.run_binary("make-synthetic-model " + written);
  CHECK(no_folder.rc == 5);
  CHECK(no_folder.err.find("sub/synthetic.pt") != std::string::npos);  // no such folder: named
  fs::create_directories(f.file("sub"));
  REQUIRE(f.run_binary("make-synthetic-model " + written).rc == 0);
  CHECK(slurp(written) == slurp(synthetic_model_path()));
  // And it segments: the two rectangles and the background of the fixture's image.
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
  CliFixture f;
  const std::string help = printed_by(f, "merge --help");
  for (const char* flag : {"--out ", "--out-dir", "--shard-count", "--quiet"}) {
    INFO(flag);
    CHECK(help.find(flag) != std::string::npos);
  }
}

TEST_CASE("Unknown flags get the closest name, -o is gone, --output is SAM 1's folder", "[cli]") {
  CliFixture f;
  const std::string typo = printed_by(f, "--pred-iou-tresh 0.5 --print-config");
  CHECK(typo.find("unknown flag '--pred-iou-tresh'; did you mean '--pred-iou-thresh'?") != std::string::npos);
  CHECK(f.run_binary("--pred-iou-tresh 0.5 --print-config").rc == 2);
  const CliResult tune = f.run_binary("tune --overlay-row 1 --print-config");
  CHECK(tune.rc == 2);
  CHECK(tune.err.find("did you mean '--overlay-rows'?") != std::string::npos);
  // Far from every flag: no guess.
  CHECK(printed_by(f, "--zzzzzzzzzzzz").find("did you mean") == std::string::npos);
  // -o would read as --output: it is refused with what to use instead.
  const std::string o = printed_by(f, "-o m.json --print-config");
  CHECK(o.find("--out F.json") != std::string::npos);
  // --output is --out-dir, and --help says so.
  const std::string printed = printed_by(f, "--output folder --print-config");
  CHECK(printed.find("\nout_dir: \"folder\"\n") != std::string::npos);
  const std::string help = printed_by(f, "--help");
  CHECK(help.find("-o,") == std::string::npos);
  CHECK(help.find("--output is SAM 1 amg.py's name for this folder") != std::string::npos);
}
