// What a run leaves behind when things go wrong: printable names, no torn JSON lines on a full
// disk, no journal of a run that never started, folder entries that cannot be used reported,
// and outputs that say how the run ended.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "common/error.h"
#include "common/printable.h"
#include "io/inputs.h"
#include "io/json_files.h"
#include "io/outputs.h"
#include "io/run_config.h"
#include "io/writers.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const Provenance kProv{"1", "m", "s", "", "apply"};
const ImageU8 kImage = make_image(4, 4, kBlack, {});

std::vector<std::string> tree(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) out.push_back(fs::relative(e.path(), dir).string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("printable escapes what could forge a log line or drive a terminal", "[io][names]") {
  CHECK(printable("plain/photo 1.jpg") == "plain/photo 1.jpg");
  CHECK(printable("a\nb") == "a\\nb");
  CHECK(printable("a\r\tb") == "a\\r\\tb");
  CHECK(printable("\x1b[31mred") == "\\x1B[31mred");
  CHECK(printable("x\x7f") == "x\\x7F");
  CHECK(printable("back\\slash") == "back\\\\slash");  // so "a\\nb" and "a\nb" stay apart
  CHECK(printable("caf\xC3\xA9") == "caf\xC3\xA9");    // UTF-8 text kept
  CHECK(printable("c1\xC2\x9B") == "c1\\xC2\\x9B");    // the C1 control CSI
  // Errors name files through it.
  CHECK(std::string(ImageReadError("x\n[info] forged", "empty file").what()) ==
        "cannot read image 'x\\n[info] forged': empty file");
  CHECK(std::string(OutputError("o\nut", "disk full").what()) == "cannot write 'o\\nut': disk full");
}

TEST_CASE("A JSON-lines file never keeps a torn line when the disk fills up", "[io][jsonl][torn]") {
  TempDir dir;
  const std::string path = dir.file("x.jsonl");
  const std::string text(300, 'a');
  // In a child: a 4000-byte file size limit stands in for a full disk (each line is ~310 bytes,
  // so the 13th line is cut mid-way by the kernel).
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{4000, 4000};
    setrlimit(RLIMIT_FSIZE, &limit);
    int code = 3;
    try {
      JsonLinesFile f(path, false);
      for (int i = 0; i < 100; ++i) f.write(json{{"i", i}, {"text", text}});
    } catch (const OutputError& e) {
      code = std::string(e.what()).find("cannot write '" + path + "'") != std::string::npos ? 0 : 4;
    }
    _exit(code);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);  // the write failed with OutputError naming the file
  const std::string data = slurp(path);
  REQUIRE(!data.empty());
  CHECK(data.back() == '\n');  // cut back to the last complete line
  CHECK(data.size() < 4000);
  std::istringstream lines(data);
  int n = 0;
  for (std::string s; std::getline(lines, s); ++n) CHECK(json::parse(s)["i"] == n);
  CHECK(n == 12);
}

TEST_CASE("Outputs that never got an image leave no journal, run.json or temporary file", "[io][never-started]") {
  TempDir dir;
  OutputPaths paths;
  paths.coco = dir.file("m.json");
  paths.out_dir = dir.file("d");
  paths.jsonl = dir.file("no/such/folder/m.jsonl");  // the last writer cannot open: the run fails
  fs::create_directories(paths.out_dir);
  const std::vector<InputFile> inputs = {{dir.file("a.png"), "a.png", ""}};
  CHECK_THROWS_AS(
      RunOutputs(paths, OutputMode::kCocoRle, SegmentationFormat::kCompressedRle, OverlayStyle{}, kProv, inputs),
      OutputError);
  CHECK(tree(dir.path()) == std::vector<std::string>{"d"});
  // A writer destroyed before its first image (a failure elsewhere) leaves nothing either.
  { auto w = make_coco_writer(paths.coco, SegmentationFormat::kCompressedRle, kProv, false); }
  CHECK(tree(dir.path()) == std::vector<std::string>{"d"});
  // Once an image is written, the journal is there for --resume.
  {
    auto w = make_coco_writer(paths.coco, SegmentationFormat::kCompressedRle, kProv, false);
    w->write({inputs[0], 4, 4}, kImage, {});
  }
  CHECK(fs::exists(paths.coco + ".partial.jsonl"));
  // Replacing that output (--overwrite): the earlier journal goes at once, even if this run then
  // writes no image, so a later --resume cannot mix it into this run's file.
  {
    auto w = make_coco_writer(paths.coco, SegmentationFormat::kCompressedRle, kProv, false);
    w->finish(false);
  }
  CHECK_FALSE(fs::exists(paths.coco + ".partial.jsonl"));
  CHECK(json::parse(slurp(paths.coco))["images"].empty());
}

TEST_CASE("Dangling links, link loops and links to folders are reported, not silently dropped",
          "[io][inputs][skipped]") {
  TempDir dir;
  const std::string in = dir.file("in");
  fs::create_directories(in + "/sub");
  std::ofstream(in + "/good.png") << "x";
  std::ofstream(in + "/sub/deep.png") << "x";
  fs::create_symlink(in + "/gone.png", in + "/dangling.png");
  fs::create_symlink(in + "/loop.png", in + "/loop.png");   // resolves to itself: ELOOP
  fs::create_symlink(in, in + "/sub/up");                   // a link back up the tree
  fs::create_symlink(in + "/gone.txt", in + "/notes.txt");  // not an image name: not an input anyway
  IoOptions io;
  io.input = {in};
  std::vector<UnreadableInput> skipped;
  std::vector<InputFile> files = collect_inputs(io, &skipped);
  REQUIRE(files.size() == 1);
  CHECK(files[0].name == "good.png");
  REQUIRE(skipped.size() == 2);
  CHECK(skipped[0].path == in + "/dangling.png");
  CHECK(skipped[0].reason == "dangling symbolic link");
  CHECK(skipped[1].path == in + "/loop.png");
  CHECK(skipped[1].reason == "symbolic link loop");

  io.recursive = true;
  skipped.clear();
  files = collect_inputs(io, &skipped);
  REQUIRE(files.size() == 2);
  CHECK(files[1].name == "sub/deep.png");
  REQUIRE(skipped.size() == 3);
  CHECK(skipped[2].path == in + "/sub/up");
  CHECK(skipped[2].reason == "link to a folder, not followed");

  // An unreadable sub-folder (root reads every folder: nothing to check there).
  if (::geteuid() != 0) {
    fs::create_directories(in + "/locked");
    fs::permissions(in + "/locked", fs::perms::none);
    skipped.clear();
    collect_inputs(io, &skipped);
    fs::permissions(in + "/locked", fs::perms::owner_all);
    bool reported = false;
    for (const auto& s : skipped)
      reported = reported || (s.path == in + "/locked" && s.reason.find("cannot list") == 0);
    CHECK(reported);
  }
}

TEST_CASE("COCO info and run.json record how the run ended and which inputs were unreadable", "[io][provenance]") {
  TempDir dir;
  const std::vector<InputFile> inputs = {{dir.file("a.png"), "a.png", ""}, {dir.file("b\n.png"), "b\n.png", ""}};
  RunEnd end;
  end.complete = false;
  end.stopped_by = "SIGTERM";
  end.unreadable = {{dir.file("b\n.png"), "empty file"}};
  end.skipped_entries = {{dir.file("c.png"), "dangling symbolic link"}};
  auto coco = make_coco_writer(dir.file("m.json"), SegmentationFormat::kCompressedRle, kProv, false);
  auto per_image = make_per_image_writer(dir.file("d"), OutputMode::kCocoRle, SegmentationFormat::kCompressedRle, false,
                                         kProv, inputs);
  for (auto* w : {coco.get(), per_image.get()}) {
    w->write({inputs[0], 4, 4}, kImage, {});
    w->set_run_end(end);
    w->finish(false);
  }
  const json expected = {{"complete", false},
                         {"stopped_by", "SIGTERM"},
                         {"unreadable", {{{"path", dir.file("b\n.png")}, {"reason", "empty file"}}}},
                         {"skipped_entries", {{{"path", dir.file("c.png")}, {"reason", "dangling symbolic link"}}}}};
  CHECK(json::parse(slurp(dir.file("m.json")))["info"]["sam2_amg"]["run"] == expected);
  const json run = json::parse(slurp(dir.file("d/run.json")));
  CHECK(run["run"] == expected);
  CHECK(run["model_sha256"] == "s");  // the provenance is still there
  // A complete run says so, with nothing unreadable.
  auto again = make_coco_writer(dir.file("n.json"), SegmentationFormat::kCompressedRle, kProv, false);
  again->set_run_end(RunEnd{});
  again->finish(true);
  CHECK(json::parse(slurp(dir.file("n.json")))["info"]["sam2_amg"]["run"] ==
        json{{"complete", true}, {"unreadable", json::array()}, {"skipped_entries", json::array()}});
}
