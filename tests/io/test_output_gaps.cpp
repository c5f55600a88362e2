// JSON-lines files are never written through a symbolic link, and a new one never truncates
// another name of the file it replaces (a hard link); overlay labels carry the outputs' ids, one
// on each part of a mask.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/json_files.h"
#include "io/overlay.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("A JSON-lines file is not written through a symbolic link planted at its path", "[io][gaps][links]") {
  TempDir dir;
  const std::string victim = dir.file("victim.txt");
  std::ofstream(victim) << "keep\n";
  const std::string path = dir.file("out.jsonl");
  fs::create_symlink(victim, path);
  for (const bool append : {false, true}) {
    INFO("append " << append);
    CHECK_THROWS_AS(
        [&] {
          JsonLinesFile f(path, append);
          f.write({{"type", "run"}});
        }(),
        OutputError);
    CHECK(slurp(victim) == "keep\n");
    CHECK(fs::is_symlink(fs::symlink_status(path)));  // left as it was
  }
}

TEST_CASE("A new JSON-lines file replaces a regular file without truncating its other names", "[io][gaps][links]") {
  TempDir dir;
  const std::string other = dir.file("input-list.txt");
  std::ofstream(other) << "a.png\n";
  const std::string path = dir.file("out.jsonl");
  REQUIRE(::link(other.c_str(), path.c_str()) == 0);
  {
    JsonLinesFile f(path, /*append=*/false);
    f.write({{"type", "run"}});
  }
  CHECK(slurp(path) == "{\"type\":\"run\"}\n");
  CHECK(slurp(other) == "a.png\n");
  // Appending keeps what is there.
  {
    JsonLinesFile f(path, /*append=*/true);
    f.write({{"type", "image"}});
  }
  CHECK(slurp(path) == "{\"type\":\"run\"}\n{\"type\":\"image\"}\n");
}

TEST_CASE("Overlay labels: the id the output carries, one on each connected part of a mask", "[io][gaps][overlay]") {
  // One mask of two red squares far apart, and a blue one.
  const ImageU8 image = make_image(200, 120, kBlack, {{10, 10, 50, 50, kRed}, {140, 60, 190, 110, kRed},
                                                       {80, 20, 110, 50, kBlue}});
  MaskRecord red, blue;
  red.segmentation = colour_mask(image, kRed);
  blue.segmentation = colour_mask(image, kBlue);
  red.area = area_from_rle(red.segmentation);
  blue.area = area_from_rle(blue.segmentation);
  const Overlay o = render_overlay(image, {red, blue});
  REQUIRE(o.labels.size() == 3);
  int on_left = 0, on_right = 0;
  for (const OverlayLabel& l : o.labels) {
    const int cx = (l.x0 + l.x1) / 2, cy = (l.y0 + l.y1) / 2;
    if (l.mask == 0) {
      CHECK(l.text == "1");  // SA-1B / JSON lines `id`
      on_left += cx >= 10 && cx < 50 && cy >= 10 && cy < 50;
      on_right += cx >= 140 && cx < 190 && cy >= 60 && cy < 110;
    } else {
      CHECK(l.mask == 1);
      CHECK(l.text == "2");
    }
  }
  CHECK(on_left == 1);
  CHECK(on_right == 1);
  // Beside --out-dir's mask folders (0.png, 1.png, metadata.csv ids): from 0.
  OverlayStyle folders;
  folders.first_id = 0;
  for (const OverlayLabel& l : render_overlay(image, {red, blue}, folders).labels)
    CHECK(l.text == std::to_string(l.mask));
}
