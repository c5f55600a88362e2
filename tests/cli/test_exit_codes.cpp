// README's exit-code table stays true: every code it lists is produced by a real scenario through
// the binary (the code and the key phrase of the message), and every scenario's code is listed.
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>
#include <set>
#include <sstream>

#include "model/synthetic_model.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;

namespace {

using Outcome = CliResult;  // rc, and err: the binary's standard error

// The CLI fixture (models that fail in the decoder beside its own) and a folder of small images.
struct Setup : CliFixture {
  Setup() {
    points_per_side = 16;
    for (int i = 0; i < 24; ++i) add_image("img" + std::to_string(100 + i) + ".png");
  }
  std::string bin(const std::string& model_path, const std::string& args) const {
    return command_with_model(model_path, args);
  }
  Outcome run(const std::string& command_line) const { return capture(command_line); }
  // Starts a run, sends `signal` once one image is journalled, and waits for the run to end.
  Outcome interrupt(const std::string& signal) const {
    const std::string out = dir.file(signal + ".json"), err = dir.file("err.txt");
    const std::string script = bin(model, "--input " + images + " --out " + out) + " 2> " + err + " & pid=$!; " +
                               wait_for_lines(out + ".partial.jsonl", 1) + "; kill -" + signal + " $pid; wait $pid";
    const int rc = bash(script, "interrupt.sh");
    return {rc, "", slurp(err)};
  }
};

struct Scenario {
  int code;
  const char* situation;
  const char* phrase;  // expected in standard error
  std::function<Outcome(const Setup&)> run;
  const char* absent = "";  // must not be in standard error (when not empty)
};

const std::vector<Scenario>& scenarios() {
  static const std::vector<Scenario> all = {
      {0, "every input processed", "1 images (0 resumed)",
       [](const Setup& s) { return s.run(s.bin(s.model, "--input " + s.images + "/img100.png --out " + s.dir.file("ok.json"))); }},
      {1, "the model's decoder raises an unexpected error mid-run", "internal error",
       [](const Setup& s) {
         const std::string model = s.dir.file("broken.pt");
         write_synthetic_model(model, /*fail_from_batch=*/3, "simulated model failure");  // past the probe's 1 and 2
         return s.run(s.bin(model, "--input " + s.images + "/img100.png --out " + s.dir.file("broken.json")));
       }},
      {2, "a parameter out of range", "pred_iou_thresh = 2: expected a value in [0, 1]",
       [](const Setup& s) {
         return s.run(s.bin(s.model, "--input " + s.images + " --out " + s.dir.file("o.json") + " --pred-iou-thresh 2"));
       }},
      {3, "the model file is missing", "cannot open model file",
       [](const Setup& s) { return s.run(s.bin(s.dir.file("none.pt"), "--input " + s.images + " --out " + s.dir.file("o.json"))); }},
      {4, "an empty image file among good ones", "empty file",
       [](const Setup& s) {
         std::ofstream(s.dir.file("empty.png")).flush();
         return s.run(s.bin(s.model, "--input " + s.images + "/img100.png --input " + s.dir.file("empty.png") +
                                         " --out " + s.dir.file("four.json")));
       }},
      {5, "the output's folder is a file", "cannot write",
       [](const Setup& s) {
         std::ofstream(s.dir.file("plain")) << "x";
         return s.run(s.bin(s.model, "--input " + s.images + " --out " + s.dir.file("plain/m.json")));
       }},
      {6, "merge with a shard never run", "shards with no output",
       [](const Setup& s) {
         const std::string out = s.dir.file("sharded.json");
         const Outcome first = s.run(s.bin(s.model, "--input " + s.images + "/img100.png --shard 0/2 --out " + out));
         REQUIRE(first.rc == 0);
         return s.run_binary("merge --out " + out);
       }},
      {75, "the decoder is out of device memory even for one prompt", "out of device memory",
       [](const Setup& s) {
         const std::string model = s.dir.file("oom.pt");
         write_synthetic_model(model, /*fail_from_batch=*/1);
         return s.run(s.bin(model, "--input " + s.images + " --out " + s.dir.file("oom.json")));
       }},
      {141, "the reader of --jsonl - closed the pipe", "model:",
       [](const Setup& s) {
         const std::string err = s.dir.file("pipe-err.txt");
         const int rc = s.bash(s.bin(s.model, "--input " + s.images + " --jsonl -") + " 2> " + err +
                                   " | head -n 1 > /dev/null; exit ${PIPESTATUS[0]}",
                               "pipe.sh");
         return Outcome{rc, "", slurp(err)};
       },
       "[error]"},
      {130, "SIGINT", "interrupted by signal 2", [](const Setup& s) { return s.interrupt("INT"); }},
      {138, "SIGUSR1", "interrupted by signal 10", [](const Setup& s) { return s.interrupt("USR1"); }},
      {143, "SIGTERM", "interrupted by signal 15", [](const Setup& s) { return s.interrupt("TERM"); }},
  };
  return all;
}

// The codes in the first column of README's "Exit codes" table ("130 / 138 / 143" gives three).
std::set<int> readme_exit_codes() {
  std::istringstream readme(slurp(std::string(SAM2AMG_SOURCE_DIR) + "/README.md"));
  std::set<int> codes;
  bool in_section = false;
  for (std::string line; std::getline(readme, line);) {
    if (line.rfind("#", 0) == 0) in_section = line.find("Exit codes") != std::string::npos;
    if (!in_section || line.rfind("| ", 0) != 0) continue;
    const std::string first = line.substr(2, line.find('|', 2) - 2);
    if (!std::regex_match(first, std::regex(R"(\s*\d+( / \d+)*\s*)"))) continue;  // the header row
    const std::regex number(R"(\d+)");
    for (auto it = std::sregex_iterator(first.begin(), first.end(), number); it != std::sregex_iterator(); ++it)
      codes.insert(std::stoi(it->str()));
  }
  return codes;
}

}  // namespace

TEST_CASE("Each exit code comes from a real scenario, with its message", "[cli][exitcodes]") {
  const Setup setup;
  for (const Scenario& s : scenarios()) {
    INFO("exit " << s.code << ": " << s.situation);
    const Outcome o = s.run(setup);
    INFO(o.err);
    CHECK(o.rc == s.code);
    CHECK(o.err.find(s.phrase) != std::string::npos);
    if (*s.absent) CHECK(o.err.find(s.absent) == std::string::npos);
  }
}

TEST_CASE("README's exit-code table lists exactly the codes the scenarios produce", "[cli][exitcodes][docs]") {
  std::set<int> tested;
  for (const Scenario& s : scenarios()) tested.insert(s.code);
  const std::set<int> documented = readme_exit_codes();
  CHECK(documented.size() >= 8);  // the parser found the table
  CHECK(documented == tested);
}
