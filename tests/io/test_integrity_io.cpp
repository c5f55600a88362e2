// Limits before memory: every supported format's size is read from its header before decoding,
// and a file's size is checked before any byte of it is read. Shard labels of any count.
#include <opencv2/imgcodecs.hpp>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "io/image_reader.h"
#include "io/json_files.h"
#include "io/outputs.h"
#include "io/safe_files.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

namespace {

void put(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::string read_error(const std::string& path, std::int64_t max_pixels) {
  ReadOptions options;
  options.max_pixels = max_pixels;
  try {
    read_image_rgb(path, options);
  } catch (const ImageReadError& e) {
    CHECK(e.exit_code() == 4);
    return e.what();
  }
  return "";
}

// A classic TIFF whose only IFD says width x height (LONG values), nothing else.
std::vector<std::uint8_t> tiff_header(bool big_endian, std::uint32_t width, std::uint32_t height) {
  std::vector<std::uint8_t> b;
  auto u16 = [&](std::uint32_t v) {
    if (big_endian) b.insert(b.end(), {std::uint8_t(v >> 8), std::uint8_t(v)});
    else b.insert(b.end(), {std::uint8_t(v), std::uint8_t(v >> 8)});
  };
  auto u32 = [&](std::uint32_t v) {
    if (big_endian) b.insert(b.end(), {std::uint8_t(v >> 24), std::uint8_t(v >> 16), std::uint8_t(v >> 8), std::uint8_t(v)});
    else b.insert(b.end(), {std::uint8_t(v), std::uint8_t(v >> 8), std::uint8_t(v >> 16), std::uint8_t(v >> 24)});
  };
  b.insert(b.end(), big_endian ? std::initializer_list<std::uint8_t>{'M', 'M'} : std::initializer_list<std::uint8_t>{'I', 'I'});
  u16(42);
  u32(8);
  u16(2);
  for (const auto& [tag, v] : {std::pair<std::uint32_t, std::uint32_t>{256, width}, {257, height}}) {
    u16(tag);
    u16(4);
    u32(1);
    u32(v);
  }
  u32(0);
  return b;
}

}  // namespace

TEST_CASE("Every supported format's size comes from its header, before decoding", "[io][limits][integrity]") {
  TempDir dir;
  const cv::Mat img(200, 300, CV_8UC3, cv::Scalar(10, 200, 30));
  for (const char* ext : {".png", ".jpg", ".bmp", ".tif", ".webp", ".ppm", ".pgm", ".pnm"}) {
    INFO(ext);
    std::vector<std::uint8_t> bytes;
    const cv::Mat m = std::string(ext) == ".pgm" ? cv::Mat(200, 300, CV_8UC1, cv::Scalar(90)) : img;
    REQUIRE(cv::imencode(ext, m, bytes));
    CHECK(probe_image_size(bytes) == std::pair<std::int64_t, std::int64_t>{300, 200});
    const std::string path = dir.file(std::string("x") + ext);
    put(path, bytes);
    // Refused by the header's size, not after decoding.
    CHECK(read_error(path, 1000).find("300x200 pixels is above max_image_pixels (1000)") != std::string::npos);
    CHECK(read_error(path, 60000).empty());
  }
  // A lossless WebP (VP8L) too.
  std::vector<std::uint8_t> lossless;
  REQUIRE(cv::imencode(".webp", img, lossless, {cv::IMWRITE_WEBP_QUALITY, 101}));
  CHECK(probe_image_size(lossless) == std::pair<std::int64_t, std::int64_t>{300, 200});
  // A few bytes that claim 20000 x 20000: refused by the default limit, never decoded.
  for (const bool be : {false, true}) {
    const std::vector<std::uint8_t> huge = tiff_header(be, 20000, 20000);
    CHECK(probe_image_size(huge) == std::pair<std::int64_t, std::int64_t>{20000, 20000});
    CHECK(image_header_problem(huge, std::int64_t{1} << 28).find("20000x20000 pixels is above") != std::string::npos);
  }
  // Netpbm comments and PAM.
  const std::string pnm = "P6\n# a comment\n 640 # another\n480\n255\n";
  CHECK(probe_image_size(std::vector<std::uint8_t>(pnm.begin(), pnm.end())) ==
        std::pair<std::int64_t, std::int64_t>{640, 480});
  const std::string pam = "P7\nWIDTH 33\nHEIGHT 44\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n";
  CHECK(probe_image_size(std::vector<std::uint8_t>(pam.begin(), pam.end())) ==
        std::pair<std::int64_t, std::int64_t>{33, 44});
}

TEST_CASE("An image file's size is checked before it is read", "[io][limits][integrity]") {
  TempDir dir;
  CHECK(image_file_cap(std::int64_t{1} << 28) == (std::uint64_t{8} << 28) + (std::uint64_t{64} << 20));
  // A sparse file far above the cap for 1000 pixels: refused by its size, unread.
  const std::string sparse = dir.file("huge.png");
  std::ofstream(sparse, std::ios::binary) << "\x89PNG";
  fs::resize_file(sparse, std::uintmax_t{200} << 20);
  const std::string m = read_error(sparse, 1000);
  CHECK(m.find("200.0 MiB is above the limit of 64.0 MiB for max_image_pixels 1000") != std::string::npos);
}

TEST_CASE("Shard labels of 100000 shards or more name files merge finds", "[io][shards][integrity]") {
  CHECK(shard_label({3, 100000}) == "shard-00003-of-100000");
  const auto s = parse_shard_label("shard-00003-of-100000");
  REQUIRE(s);
  CHECK(s->index == 3);
  CHECK(s->count == 100000);
  CHECK(parse_shard_label("shard-123456-of-200000")->index == 123456);
  CHECK_FALSE(parse_shard_label("shard-0003-of-00010"));    // four digits: not a label shard_label writes
  CHECK_FALSE(parse_shard_label("shard-000003-of-00010"));  // six where five suffice: neither
  TempDir dir;
  const std::string out = dir.file("m.json");
  std::ofstream(shard_path(out, {3, 100000})) << "{}";
  std::ofstream(shard_done_path(out, {3, 100000})) << "{}";
  const ShardFiles f = find_coco_shards(out, 0);
  CHECK(f.count == 100000);
  CHECK(f.outputs.count(3) == 1);
  CHECK(f.markers.count(3) == 1);
}

TEST_CASE("The next holder of an output's lock removes what a killed run left, and nothing else",
          "[io][outputs][integrity]") {
  TempDir dir;
  const std::string od = dir.file("od");
  fs::create_directories(od + "/sub");
  std::string stale_file, stale_folder, other_tag, foreign;
  {
    OutputLock lock(od + "/.sam2amg.lock", od);
    foreign = temporary_name_beside(od + "/w");
    // What a run killed mid-write leaves: a temporary file, a temporary mask folder.
    stale_file = temporary_name_beside(od + "/sub/x.json");
    stale_folder = temporary_name_beside(od + "/sub/y");
    CHECK(fs::path(stale_file).filename().string().size() <= 48);
    CHECK(fs::path(stale_file).parent_path() == fs::path(od + "/sub"));
    std::ofstream(stale_file) << "half";
    fs::create_directory(stale_folder);
    std::ofstream(stale_folder + "/0.png") << "png";
    std::ofstream(stale_folder + "/metadata.csv") << "csv";
  }
  // Another output's temporaries (another lock), and a folder with a file sam2-amg never writes.
  {
    OutputLock other(od + "/shard-00001-of-00002.lock", od);
    other_tag = temporary_name_beside(od + "/z.json");
    std::ofstream(other_tag) << "the other shard's";
  }
  fs::create_directory(foreign);
  std::ofstream(foreign + "/notes.txt") << "mine";
  std::ofstream(od + "/keep.json.123.tmp") << "not of this scheme";
  REQUIRE(fs::exists(stale_file));
  {
    OutputLock lock(od + "/.sam2amg.lock", od);  // the next run on the same output
  }
  CHECK_FALSE(fs::exists(stale_file));
  CHECK_FALSE(fs::exists(stale_folder));
  CHECK(fs::exists(other_tag));
  CHECK(slurp(foreign + "/notes.txt") == "mine");
  CHECK(fs::exists(od + "/keep.json.123.tmp"));
  // A file output's temporaries sit beside it: one name, however long the output's name.
  const std::string out = dir.file(std::string(230, 'm') + ".json");
  OutputLock lock(out + ".lock", out);
  const std::string tmp = temporary_name_beside(out);
  CHECK(fs::path(tmp).filename().string().size() <= 48);
  CHECK(fs::path(tmp).parent_path() == fs::path(out).parent_path());
}
