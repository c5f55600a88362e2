// What a run leaves behind when things go wrong: printable names, no torn JSON lines on a full
// disk, folder entries that cannot be used reported.
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

TEST_CASE("printable escapes what could forge a log line or drive a terminal", "[io][names]") {
  CHECK(printable("plain/photo 1.jpg") == "plain/photo 1.jpg");
  CHECK(printable("a\nb") == "a\\nb");
  CHECK(printable("a\r\tb") == "a\\r\\tb");
  CHECK(printable("\x1b[31mred") == "\\x1B[31mred");
  CHECK(printable("x\x7f") == "x\\x7F");
  CHECK(printable("back\\slash") == "back\\\\slash");  // so "a\\nb" and "a\nb" stay apart
  CHECK(printable("caf\xC3\xA9") == "caf\xC3\xA9");      // UTF-8 text kept
  CHECK(printable("c1\xC2\x9B") == "c1\\xC2\\x9B");      // the C1 control CSI
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

TEST_CASE("Dangling links, link loops and links to folders are reported, not silently dropped",
          "[io][inputs][skipped]") {
  TempDir dir;
  const std::string in = dir.file("in");
  fs::create_directories(in + "/sub");
  std::ofstream(in + "/good.png") << "x";
  std::ofstream(in + "/sub/deep.png") << "x";
  fs::create_symlink(in + "/gone.png", in + "/dangling.png");
  fs::create_symlink(in + "/loop.png", in + "/loop.png");  // resolves to itself: ELOOP
  fs::create_symlink(in, in + "/sub/up");                  // a link back up the tree
  fs::create_symlink(in + "/gone.txt", in + "/notes.txt"); // not an image name: not an input anyway
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
    for (const auto& s : skipped) reported = reported || (s.path == in + "/locked" && s.reason.find("cannot list") == 0);
    CHECK(reported);
  }
}
