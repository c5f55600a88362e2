#pragma once
/// Point grids. ref: sam2/utils/amg.py:181-199 (build_point_grid, build_all_layer_point_grids).
#include <ATen/ATen.h>

#include <vector>

#include "amg/amg_config.h"

namespace sam2amg {

/// An n x n grid of normalised (x, y) points at cell centres, row-major (y outer, x inner), as a
/// (n*n, 2) float64 CPU tensor. Values follow numpy.linspace(1/(2n), 1-1/(2n), n) bit for bit.
at::Tensor build_point_grid(int n_per_side);

/// One grid per crop layer 0..n_layers; layer i has int(n_per_side / scale_per_layer^i) per side.
std::vector<at::Tensor> build_all_layer_point_grids(int n_per_side, int n_layers, int scale_per_layer);

/// The grids a config asks for: built from points_per_side, or its explicit point_grids
/// converted to (N, 2) float64 tensors. Assumes config.validate() passed.
std::vector<at::Tensor> point_grids_for(const AmgConfig& config);

}  // namespace sam2amg
