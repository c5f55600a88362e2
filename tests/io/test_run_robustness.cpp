// What a run leaves behind when things go wrong: no torn JSON lines on a full disk.
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
using nlohmann::json;

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
