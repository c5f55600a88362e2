// Catch2's runner (v2 and v3 alike), with the exit status CTest reads: 0 passed,
// kSkipExitCode skipped (SAM2AMG_SKIP, nothing failed), anything else failed.
#if __has_include(<catch2/catch_session.hpp>)
#include <catch2/catch_session.hpp>
#else
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>
#endif

#include <cstdlib>
#include <fstream>

#include "support/catch.h"

namespace sam2amg::test {

namespace {
bool skipped = false;
}

void mark_skipped(const std::string& test_name, const std::string& reason) {
  skipped = true;
  const char* log = std::getenv("SAM2AMG_SKIP_LOG");
  if (!log || !*log) return;
  std::string line = test_name + ": " + reason;
  for (char& c : line)
    if (c == '\n' || c == '\r') c = ' ';
  std::ofstream(log, std::ios::app) << line + "\n";
}

bool test_skipped() { return skipped; }

}  // namespace sam2amg::test

int main(int argc, char* argv[]) {
  // Catch2 v2 returns the number of failed assertions (or of listed tests), which must never
  // read as the skip code.
  const int status = Catch::Session().run(argc, argv);
  if (status == 0) return sam2amg::test::test_skipped() ? sam2amg::test::kSkipExitCode : 0;
  return status == sam2amg::test::kSkipExitCode ? 1 : status;
}
