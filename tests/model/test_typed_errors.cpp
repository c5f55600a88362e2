// LibTorch's failures leave the model layer as typed errors: no other layer reads its messages.
#include <ATen/ATen.h>

#include <new>

#include "common/error.h"
#include "model/torch_errors.h"
#include "support/catch.h"

using namespace sam2amg;

namespace {

// What rethrow_as_typed_error makes of the exception `fail` throws.
template <class F>
std::exception_ptr typed(F fail) {
  try {
    try {
      fail();
    } catch (...) {
      rethrow_as_typed_error();
    }
  } catch (...) {
    return std::current_exception();
  }
  return nullptr;
}

template <class E>
const E* as(const std::exception_ptr& p, std::string* what) {
  try {
    std::rethrow_exception(p);
  } catch (const E& e) {
    *what = e.what();
    return &e;
  } catch (...) {
  }
  return nullptr;
}

}  // namespace

TEST_CASE("LibTorch's host allocation failure becomes the image's error (exit 4)", "[model][errors]") {
  // A real failure of LibTorch's CPU allocator: 2^50 floats.
  const std::exception_ptr p = typed([] { (void)at::empty({std::int64_t{1} << 50}, at::kFloat); });
  std::string what;
  const ImageError* e = as<ImageError>(p, &what);
  REQUIRE(e != nullptr);
  CHECK(e->exit_code() == 4);
  CHECK(what.rfind("not enough memory for this image (", 0) == 0);
  CHECK(what.find("lower --points-per-batch") != std::string::npos);
  CHECK(what.find('\n') == std::string::npos);  // one line, no C++ backtrace

  const std::exception_ptr b = typed([] { throw std::bad_alloc(); });
  REQUIRE(as<ImageError>(b, &what) != nullptr);
  CHECK(what.find("not enough memory for this image") != std::string::npos);
}

TEST_CASE("A CUDA failure becomes a DeviceError (exit 75), other errors pass unchanged", "[model][errors]") {
  std::string what;
  const std::exception_ptr cuda = typed([] {
    throw std::runtime_error("CUDA error: an illegal memory access was encountered\nException raised from x");
  });
  const DeviceError* d = as<DeviceError>(cuda, &what);
  REQUIRE(d != nullptr);
  CHECK(d->exit_code() == 75);
  CHECK(what == "device failure: CUDA error: an illegal memory access was encountered; retry with --resume");
  const std::exception_ptr cudnn = typed([] { throw std::runtime_error("cuDNN error: CUDNN_STATUS_NOT_INITIALIZED"); });
  CHECK(as<DeviceError>(cudnn, &what) != nullptr);

  // A LibTorch error of another kind (a shape mismatch) stays what it was: a bug, exit 1.
  const std::exception_ptr shape = typed([] { (void)at::mm(at::zeros({2, 3}), at::zeros({2, 3})); });
  CHECK(as<Error>(shape, &what) == nullptr);
  CHECK(as<c10::Error>(shape, &what) != nullptr);
  // Typed errors keep their type and message.
  const std::exception_ptr model = typed([] { throw ModelError("bad file"); });
  const ModelError* m = as<ModelError>(model, &what);
  REQUIRE(m != nullptr);
  CHECK(what == "bad file");
}
