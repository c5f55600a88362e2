#pragma once
// Catch2 v3 (CUDA LibTorch machines) or v2 (Debian 12).
#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
