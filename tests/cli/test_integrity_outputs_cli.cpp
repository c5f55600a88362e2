// Outputs that cannot be lost or escape, and names that cannot break a run: long file names,
// folder outputs removed mid-run, symbolic links inside --out-dir, hard links to inputs, names
// with control characters in messages, model archives that would inflate past their size.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The CLI fixture (quiet, 4 points per side) with a folder of square images of the given names.
struct Corpus : CliFixture {
  explicit Corpus(const std::vector<std::string>& names, int size = 48) {
    flags = "-q --progress none";
    points_per_side = 4;
    for (size_t i = 0; i < names.size(); ++i)
      add_image(names[i], make_image(size, size, kBlack, {{2 + int(i % 9), 4, size / 2, size / 2, kRed}}));
  }
  // The run's exit status; its standard error in `err`.
  int run_logged(const std::string& args, std::string& err) const {
    const CliResult r = run(args);
    err = r.err;
    return r.rc;
  }
};

}  // namespace

TEST_CASE("A 250-byte file name is written where its outputs fit, skipped by name where they cannot",
          "[cli][names][integrity]") {
  const std::string long_name = std::string(246, 'a') + ".png";  // 250 bytes; its stem 246
  Corpus c({long_name, "short.png"});
  std::string err;
  // --out-dir's "<stem>.json" is 251 bytes: it fits, and so does every temporary name.
  REQUIRE(c.run_logged("--output-mode coco_rle --input " + c.images + " --out-dir " + c.dir.file("od"), err) == 0);
  CHECK(fs::exists(c.dir.file("od/" + std::string(246, 'a') + ".json")));
  // "<stem>.overlay.png" would be 258 bytes: that input is skipped and named (exit 4), not the run.
  CHECK(c.run_logged("--input " + c.images + " --out " + c.dir.file("m.json") + " --overlay-dir " + c.dir.file("ov"),
                     err) == 4);
  CHECK(err.find(std::string(246, 'a')) != std::string::npos);
  CHECK(err.find("longer than file names may be (255 bytes)") != std::string::npos);
  CHECK(fs::exists(c.dir.file("ov/short.overlay.png")));
  const json coco = json::parse(slurp(c.dir.file("m.json")));
  REQUIRE(coco["images"].size() == 1);
  CHECK(coco["images"][0]["file_name"] == "short.png");
}

TEST_CASE("An output folder removed mid-run is an error (exit 5), never silently recreated",
          "[cli][outputs][integrity]") {
  std::vector<std::string> names;
  for (int i = 0; i < 40; ++i) names.push_back("im" + std::to_string(100 + i) + ".png");
  Corpus c(names, 96);
  const std::string od = c.dir.file("od");
  // Move the folder away once the first image is in it; the run goes on writing.
  const std::string script = c.command("--output-mode coco_rle --input " + c.images + " --out-dir " + od, 16) + " 2> " +
                             c.dir.file("err.txt") + " & pid=$!; t0=$SECONDS; until [ -e " + od +
                             "/im100.json ] || [ $((SECONDS - t0)) -gt 120 ]; do :; done; mv " + od + " " + od +
                             ".moved; wait $pid; exit $?";
  CHECK(c.bash(script, "mv.sh") == 5);
  CHECK(slurp(c.dir.file("err.txt")).find("was removed or replaced while this run wrote into it") != std::string::npos);
  // Nothing claims a complete run in a folder without the earlier images.
  CHECK_FALSE(fs::exists(od + "/run.json"));
}

TEST_CASE("Nothing is written through a symbolic link inside --out-dir", "[cli][outputs][integrity]") {
  Corpus c({"sub/x.png", "y.png"});
  const std::string od = c.dir.file("od"), outside = c.dir.file("outside");
  fs::create_directories(od);
  fs::create_directories(outside);
  std::ofstream(outside + "/x.json") << "precious";
  fs::create_directory_symlink("../outside", od + "/sub");
  std::string err;
  CHECK(c.run_logged("--recursive --output-mode coco_rle --input " + c.images + " --out-dir " + od, err) == 5);
  CHECK(err.find("is a symbolic link inside the output folder") != std::string::npos);
  CHECK(slurp(outside + "/x.json") == "precious");
}

TEST_CASE("An output that is a hard link to an input is refused, even with --overwrite", "[cli][outputs][integrity]") {
  Corpus c({"a.png"});
  const std::string input = c.images + "/a.png", link = c.dir.file("out.jsonl");
  const std::string before = slurp(input);
  fs::create_hard_link(input, link);
  std::string err;
  CHECK(c.run_logged("--input " + input + " --jsonl " + link + " --overwrite", err) == 2);
  CHECK(err.find("is the same file as '" + input + "' (a hard link)") != std::string::npos);
  CHECK(slurp(input) == before);
}

TEST_CASE("Messages print names escaped: a newline in a name cannot forge a log line", "[cli][names][integrity]") {
  Corpus c({"a.png"});
  std::string err;
  const std::string list = c.dir.file("no\nsuch list");
  CHECK(c.run_logged("--input-list '" + list + "' --out " + c.dir.file("m.json"), err) == 2);
  CHECK(err.find("no\\nsuch list") != std::string::npos);
  CHECK(err.find("no\nsuch list") == std::string::npos);
  const std::string model = c.dir.file("bad\x1b[2Jmodel.pt");
  std::ofstream(model) << "not a model";
  const CliResult bad =
      c.capture(c.command_with_model("'" + model + "'", "--input " + c.images + " --out " + c.dir.file("m.json")));
  CHECK(bad.rc == 3);
  err = bad.err;
  CHECK(err.find("bad\\x1B[2Jmodel.pt") != std::string::npos);
  CHECK(err.find('\x1b') == std::string::npos);
}

namespace {

void le(std::string& s, std::uint64_t v, int n) {
  for (int i = 0; i < n; ++i) s += static_cast<char>((v >> (8 * i)) & 0xFF);
}

// A zip whose one entry declares `unpacked` bytes from `packed` deflated ones (the data itself is
// never read: the directory is what is checked before inflating).
std::string zip_bomb_directory(const std::string& name, std::uint64_t packed, std::uint32_t unpacked) {
  std::string local = "PK\x03\x04";
  le(local, 20, 2);
  le(local, 0, 2);
  le(local, 8, 2);  // deflate
  le(local, 0, 4);
  le(local, 0, 4);  // crc
  le(local, packed, 4);
  le(local, unpacked, 4);
  le(local, name.size(), 2);
  le(local, 0, 2);
  local += name + std::string(packed, '\0');
  std::string central = "PK\x01\x02";
  le(central, 20, 2);
  le(central, 20, 2);
  le(central, 0, 2);
  le(central, 8, 2);
  le(central, 0, 4);
  le(central, 0, 4);
  le(central, packed, 4);
  le(central, unpacked, 4);
  le(central, name.size(), 2);
  le(central, 0, 2);
  le(central, 0, 2);
  le(central, 0, 2);
  le(central, 0, 2);
  le(central, 0, 4);
  le(central, 0, 4);  // local header offset
  central += name;
  std::string end = "PK\x05\x06";
  le(end, 0, 2);
  le(end, 0, 2);
  le(end, 1, 2);
  le(end, 1, 2);
  le(end, central.size(), 4);
  le(end, local.size(), 4);
  le(end, 0, 2);
  return local + central + end;
}

}  // namespace

TEST_CASE("A model archive whose metadata would inflate past its bounds is refused before loading (exit 3)",
          "[cli][limits][integrity]") {
  Corpus c({"a.png"});
  const std::string model = c.dir.file("bomb.pt");
  std::ofstream(model, std::ios::binary) << zip_bomb_directory("archive/extra/sam2_amg.json", 3000, 3000000000u);
  const CliResult r = c.capture(c.command_with_model(model, "--input " + c.images + " --out " + c.dir.file("m.json")));
  CHECK(r.rc == 3);
  CHECK(r.err.find("extra file 'archive/extra/sam2_amg.json' would inflate to 3000000000 bytes") != std::string::npos);
}
