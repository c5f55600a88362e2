// Hashes that outputs record: SHA-256, and the model's hash cached per file.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "io/sha256.h"
#include "support/catch.h"
#include "support/fixtures.h"

using namespace sam2amg;
using namespace sam2amg::test;
namespace fs = std::filesystem;

TEST_CASE("sha256 matches the FIPS 180-2 examples", "[io]") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST_CASE("The model hash is cached per file and recomputed when the file changes", "[io]") {
  TempDir dir;
  const std::string model = dir.file("model.pt"), cache = dir.file("cache");
  { std::ofstream(model, std::ios::binary) << "abc"; }
  setenv("SAM2AMG_CACHE_DIR", cache.c_str(), 1);
  const std::string abc = sha256_hex("abc");
  CHECK(sha256_file_cached(model) == abc);
  // The entry is what a second start reads: a planted digest comes back while size and mtime
  // match, which proves the file was not hashed again.
  REQUIRE(fs::is_directory(cache));
  std::vector<fs::path> entries{fs::directory_iterator(cache), fs::directory_iterator()};
  REQUIRE(entries.size() == 1);
  std::string p, k, d;
  {
    std::ifstream in(entries[0]);
    std::getline(in, p);
    std::getline(in, k);
    std::getline(in, d);
  }
  CHECK(d == abc);
  const std::string planted(64, 'f');
  { std::ofstream(entries[0], std::ios::trunc) << p << "\n" << k << "\n" << planted << "\n"; }
  CHECK(sha256_file_cached(model) == planted);
  // Another content (size and mtime change): hashed again.
  { std::ofstream(model, std::ios::binary | std::ios::trunc) << "abcd"; }
  fs::last_write_time(model, fs::last_write_time(model) + std::chrono::seconds(5));
  CHECK(sha256_file_cached(model) == sha256_hex("abcd"));
  // An unusable cache location costs a hash, not an error.
  setenv("SAM2AMG_CACHE_DIR", "/proc/not-a-cache", 1);
  CHECK(sha256_file_cached(model) == sha256_hex("abcd"));
  unsetenv("SAM2AMG_CACHE_DIR");
}
