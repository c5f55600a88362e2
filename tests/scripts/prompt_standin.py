"""SAM 2's prompt encoder point path as a small stand-in, shared by the exporter's and the fast
decoder's tests (ref: sam2/modeling/sam/prompt_encoder.py PromptEncoder, position_encoding.py
PositionEmbeddingRandom): the random-Fourier point encoding, the label embeddings and the dense PE.
"""
import math

import torch
from torch import nn


class PointEncoding(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.register_buffer("positional_encoding_gaussian_matrix", torch.randn(2, dim // 2) * 8)

    def _pe_encoding(self, coords):
        coords = (2 * coords - 1) @ self.positional_encoding_gaussian_matrix
        return torch.cat([torch.sin(2 * math.pi * coords), torch.cos(2 * math.pi * coords)], dim=-1)

    def forward_with_coords(self, coords_input, image_size):
        coords = coords_input.clone()
        coords[:, :, 0] = coords[:, :, 0] / image_size[1]
        coords[:, :, 1] = coords[:, :, 1] / image_size[0]
        return self._pe_encoding(coords.to(torch.float))


class PromptEncoder(nn.Module):
    """Points only (ref: prompt_encoder.py _embed_points, get_dense_pe), for a square input of
    `size` pixels whose embeddings are size / 16 wide."""

    def __init__(self, dim, size):
        super().__init__()
        self.pe_layer = PointEncoding(dim)
        self.input_image_size = (size, size)
        self.not_a_point_embed = nn.Embedding(1, dim)
        self.point_embeddings = nn.ModuleList(nn.Embedding(1, dim) for _ in range(4))
        self.no_mask_embed = nn.Embedding(1, dim)
        self.mask_downscaling = nn.Conv2d(1, dim, 4, stride=4)

    def _embed_points(self, points, labels, pad):
        assert not pad
        pe = self.pe_layer.forward_with_coords(points + 0.5, self.input_image_size)
        pe = torch.where((labels == -1).unsqueeze(-1), torch.zeros_like(pe) + self.not_a_point_embed.weight, pe)
        for k in range(4):
            pe = torch.where((labels == k).unsqueeze(-1), pe + self.point_embeddings[k].weight, pe)
        return pe

    def get_dense_pe(self):
        n = self.input_image_size[0] // 16
        c = (torch.arange(n, dtype=torch.float32) + 0.5) / n
        yx = torch.stack(torch.meshgrid(c, c, indexing="ij")[::-1], -1)
        return self.pe_layer._pe_encoding(yx).permute(2, 0, 1).unsqueeze(0)
