#include "amg/point_grid.h"

#include <cmath>

namespace sam2amg {

at::Tensor build_point_grid(int n_per_side) {
  TORCH_CHECK(n_per_side >= 1, "build_point_grid: n_per_side must be >= 1, got ", n_per_side);
  const int n = n_per_side;
  const double offset = 1.0 / (2 * n);
  // numpy.linspace: v_i = i * step + start, last element set to stop exactly.
  std::vector<double> side(n);
  const double start = offset, stop = 1.0 - offset;
  const double step = n > 1 ? (stop - start) / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) side[i] = i * step + start;
  if (n > 1) side[n - 1] = stop;

  at::Tensor grid = at::empty({int64_t(n) * n, 2}, at::kDouble);
  auto acc = grid.accessor<double, 2>();
  for (int j = 0; j < n; ++j) {
    for (int i = 0; i < n; ++i) {
      acc[j * n + i][0] = side[i];
      acc[j * n + i][1] = side[j];
    }
  }
  return grid;
}

std::vector<at::Tensor> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer) {
  std::vector<at::Tensor> grids;
  for (int i = 0; i <= n_layers; ++i) {
    // Python: int(n_per_side / (scale_per_layer**i)), a float division truncated.
    const int n_points = static_cast<int>(n_per_side / std::pow(double(scale_per_layer), i));
    grids.push_back(build_point_grid(n_points));
  }
  return grids;
}

std::vector<at::Tensor> point_grids_for(const AmgConfig& config) {
  if (config.points_per_side)
    return build_all_layer_point_grids(*config.points_per_side, config.crop_n_layers,
                                       config.crop_n_points_downscale_factor);
  std::vector<at::Tensor> grids;
  for (const PointGrid& g : config.point_grids) {
    at::Tensor t = at::empty({int64_t(g.size()), 2}, at::kDouble);
    auto acc = t.accessor<double, 2>();
    for (size_t k = 0; k < g.size(); ++k) {
      acc[k][0] = g[k][0];
      acc[k][1] = g[k][1];
    }
    grids.push_back(t);
  }
  return grids;
}

}  // namespace sam2amg
