#pragma once
// Catch2 v3 (CUDA LibTorch machines) or v2 (Debian 12).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif

#include <string>

namespace sam2amg::test {

/// The exit status of a test process whose test skipped and failed nothing: every Catch2 test
/// has it as CTest's SKIP_RETURN_CODE (tests/CMakeLists.txt), so CTest counts it as skipped.
inline constexpr int kSkipExitCode = 77;

/// Records that the running test skipped (support/catch_main.cpp): with $SAM2AMG_SKIP_LOG set,
/// appends "<test name>: <reason>" to that file (scripts/run-tests.sh prints it).
void mark_skipped(const std::string& test_name, const std::string& reason);

/// True once a test of this process has skipped.
bool test_skipped();

}  // namespace sam2amg::test

/// Skips the running test with its reason and returns from the test case (use it at the test's
/// top level, before it checks anything). Catch2 v2 has no SKIP; this one shows in CTest's
/// skipped count, and scripts/run-tests.sh fails on a skip it does not expect.
#define SAM2AMG_SKIP(reason)                                                                     \
  do {                                                                                           \
    const std::string sam2amg_skip_reason_ = (reason);                                           \
    WARN("SKIPPED: " << sam2amg_skip_reason_);                                                   \
    ::sam2amg::test::mark_skipped(Catch::getResultCapture().getCurrentTestName(), sam2amg_skip_reason_); \
    return;                                                                                      \
  } while (false)
