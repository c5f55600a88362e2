#!/usr/bin/env python3
"""Tests of the fast decoder form (scripts/fast_decoder.py, export_sam2.py --decoder fast) on a
small stand-in with SAM 2's decoder structure (seconds, no sam2 needed).

The stand-in's mask decoder is written here after sam2/modeling/sam/mask_decoder.py and
transformer.py (two-way attention blocks, the first without PE, a final token-to-image
attention, LayerNorm2d and two 2x2 transposed convolutions with the high-resolution features,
hypernetwork MLPs, an object-score token as SAM 2.1 has), in the straightforward per-prompt
form the reference uses (repeat_interleave of the image embedding and the PE). The fast form
reads the same modules' weights. Checked:

- in float32 the fast form equals the exact one (logits and scores within 1e-4), with and
  without a mask input, at several batch sizes, and a fast form that drops the PE is caught;
- the fast export records `decoder: fast`, has prepare_decoder / predict_masks_prepared, and
  its file equals the exact export in float32; the exact export records `decoder: exact`;
- the per-image context does not grow with the batch (nothing per prompt is precomputed);
- a bf16 fast export traces and verifies on the CPU and its masks match the float32 exact
  model's about as well as the exact bf16 export's do.

Exit status 77 (ctest SKIP_RETURN_CODE) when PyTorch cannot be imported.
"""
import json
import os
import sys
import tempfile
import unittest
import zipfile

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:
    print("SKIP: PyTorch is not importable by", sys.executable)
    sys.exit(77)

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "scripts"))
sys.path.insert(0, here)
import export_sam2  # noqa: E402
import fast_decoder  # noqa: E402
from prompt_standin import PromptEncoder  # noqa: E402

export_sam2.ensure_sdpa()  # torch < 2.0: the math form

C = 32   # transformer_dim (256 in SAM 2 and in the exports --write-exports makes)
S = 64   # input size: embeddings 4 x 4, low-res masks 16 x 16
HEADS = 4


class Attention(nn.Module):
    def __init__(self, dim, heads, downsample=1):
        super().__init__()
        inner = dim // downsample
        self.num_heads = heads
        self.q_proj, self.k_proj = nn.Linear(dim, inner), nn.Linear(dim, inner)
        self.v_proj, self.out_proj = nn.Linear(dim, inner), nn.Linear(inner, dim)

    def forward(self, q, k, v):
        def split(x):
            b, n, c = x.shape
            return x.reshape(b, n, self.num_heads, c // self.num_heads).transpose(1, 2)
        q, k, v = split(self.q_proj(q)), split(self.k_proj(k)), split(self.v_proj(v))
        out = F.scaled_dot_product_attention(q, k, v)
        b, h, n, d = out.shape
        return self.out_proj(out.transpose(1, 2).reshape(b, n, h * d))


class MLP(nn.Module):
    def __init__(self, i, h, o, layers, sigmoid=False):
        super().__init__()
        dims = [i] + [h] * (layers - 1)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims, dims[1:] + [o]))
        self.sigmoid = sigmoid

    def forward(self, x):
        for k, layer in enumerate(self.layers):
            x = F.relu(layer(x)) if k < len(self.layers) - 1 else layer(x)
        return torch.sigmoid(x) if self.sigmoid else x


class Block(nn.Module):
    def __init__(self, dim, skip_pe):
        super().__init__()
        self.self_attn = Attention(dim, HEADS)
        self.cross_attn_token_to_image = Attention(dim, HEADS, 2)
        self.cross_attn_image_to_token = Attention(dim, HEADS, 2)
        self.mlp = MLP(dim, 2 * dim, dim, 2)
        self.norm1, self.norm2, self.norm3, self.norm4 = (nn.LayerNorm(dim) for _ in range(4))
        self.skip_first_layer_pe = skip_pe

    def forward(self, queries, keys, query_pe, key_pe):
        if self.skip_first_layer_pe:
            queries = self.self_attn(queries, queries, queries)
        else:
            q = queries + query_pe
            queries = queries + self.self_attn(q, q, queries)
        queries = self.norm1(queries)
        queries = self.norm2(queries + self.cross_attn_token_to_image(queries + query_pe, keys + key_pe, keys))
        queries = self.norm3(queries + self.mlp(queries))
        keys = self.norm4(keys + self.cross_attn_image_to_token(keys + key_pe, queries + query_pe, queries))
        return queries, keys


class Transformer(nn.Module):
    def __init__(self, dim, depth=2):
        super().__init__()
        self.layers = nn.ModuleList(Block(dim, i == 0) for i in range(depth))
        self.final_attn_token_to_image = Attention(dim, HEADS, 2)
        self.norm_final_attn = nn.LayerNorm(dim)

    def forward(self, image, pe, points):
        keys, pe = image.flatten(2).permute(0, 2, 1), pe.flatten(2).permute(0, 2, 1)
        queries = points
        for layer in self.layers:
            queries, keys = layer(queries, keys, points, pe)
        queries = self.norm_final_attn(queries + self.final_attn_token_to_image(queries + points, keys + pe, keys))
        return queries, keys


class LayerNorm2d(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(c)), nn.Parameter(torch.zeros(c)), 1e-6

    def forward(self, x):
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)
        return self.weight[:, None, None] * ((x - u) / torch.sqrt(s + self.eps)) + self.bias[:, None, None]


class MaskDecoder(nn.Module):
    """SAM 2's MaskDecoder.predict_masks with high-res features and an object-score token."""

    def __init__(self, dim):
        super().__init__()
        self.transformer_dim = dim
        self.transformer = Transformer(dim)
        self.num_mask_tokens = 4
        self.pred_obj_scores = True
        self.obj_score_token, self.iou_token = nn.Embedding(1, dim), nn.Embedding(1, dim)
        self.mask_tokens = nn.Embedding(4, dim)
        self.output_upscaling = nn.Sequential(nn.ConvTranspose2d(dim, dim // 4, 2, 2), LayerNorm2d(dim // 4), nn.GELU(),
                                              nn.ConvTranspose2d(dim // 4, dim // 8, 2, 2), nn.GELU())
        self.use_high_res_features = True
        self.conv_s0, self.conv_s1 = nn.Conv2d(dim, dim // 8, 1), nn.Conv2d(dim, dim // 4, 1)
        self.output_hypernetworks_mlps = nn.ModuleList(MLP(dim, dim, dim // 8, 3) for _ in range(4))
        self.iou_prediction_head = MLP(dim, 64, 4, 3, sigmoid=True)
        self.dynamic_multimask_via_stability = True
        self.dynamic_multimask_stability_delta = 0.05
        self.dynamic_multimask_stability_thresh = 0.98

    def predict_masks(self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
                      repeat_image, high_res_features):
        b = sparse_prompt_embeddings.shape[0]
        out = torch.cat([self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight], 0)
        tokens = torch.cat((out.unsqueeze(0).expand(b, -1, -1), sparse_prompt_embeddings), 1)
        src = torch.repeat_interleave(image_embeddings, b, dim=0) + dense_prompt_embeddings
        pos = torch.repeat_interleave(image_pe, b, dim=0)
        _, c, h, w = src.shape
        hs, src = self.transformer(src, pos, tokens)
        src = src.transpose(1, 2).reshape(b, c, h, w)
        dc1, ln1, act1, dc2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res_features
        up = act2(dc2(act1(ln1(dc1(src) + feat_s1))) + feat_s0)
        hyper = torch.stack([m(hs[:, 2 + i, :]) for i, m in enumerate(self.output_hypernetworks_mlps)], 1)
        b, c, h, w = up.shape
        masks = (hyper @ up.reshape(b, c, h * w)).reshape(b, -1, h, w)
        return masks, self.iou_prediction_head(hs[:, 1, :]), None, None


class ImageEncoder(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.p0, self.p1, self.p2 = nn.Conv2d(3, dim, 4, 4), nn.Conv2d(dim, dim, 2, 2), nn.Conv2d(dim, dim, 2, 2)

    def forward(self, x):
        f0 = self.p0(x)
        f1 = self.p1(f0)
        return {"backbone_fpn": [f0, f1, self.p2(f1).to(torch.float32)]}


class StandIn(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.image_encoder = ImageEncoder(dim)
        self.sam_mask_decoder = MaskDecoder(dim)
        self.sam_prompt_encoder = PromptEncoder(dim, S)
        self.no_mem_embed = nn.Parameter(torch.randn(1, 1, dim))
        self.image_size = S
        self.use_high_res_features_in_sam = True
        self.directly_add_no_mem_embed = True


def stand_in(seed=0, logit_scale=20.0, dim=C):
    """Seeded weights; every LayerNorm gets random affine parameters, and the hypernetworks'
    last layers are scaled so that logits span tens (as the seeded checkpoints' do)."""
    torch.manual_seed(seed)
    m = StandIn(dim).eval()
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, (nn.LayerNorm, LayerNorm2d)):
                mod.weight.copy_(1 + 0.3 * torch.randn_like(mod.weight))
                mod.bias.copy_(0.2 * torch.randn_like(mod.bias))
        for mlp in m.sam_mask_decoder.output_hypernetworks_mlps:
            mlp.layers[-1].weight.mul_(logit_scale)
            mlp.layers[-1].bias.mul_(logit_scale)
    return m


def metadata(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/extra/sam2_amg.json"))
        return json.loads(z.read(name))


def embeddings(seed=3):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(1, C, S // 16, S // 16, generator=g), torch.randn(1, C // 8, S // 4, S // 4, generator=g),
            torch.randn(1, C // 4, S // 8, S // 8, generator=g))


def grid_prompts(n):
    """An n x n grid of single points (x, y) in model space plus the padding point."""
    c = (torch.arange(n, dtype=torch.float32) + 0.5) * S / n
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    pts = torch.stack([xx.flatten(), yy.flatten()], -1)
    coords = torch.cat([pts.unsqueeze(1), torch.zeros(n * n, 1, 2)], 1)
    labels = torch.tensor([[1, -1]], dtype=torch.int32).repeat(n * n, 1)
    return coords, labels


def mean_iou(a, b):
    """Mean IoU of the masks logits > 0 of a and b (B, M, h, w), over masks non-empty in a or b."""
    a, b = a > 0, b > 0
    inter = (a & b).flatten(2).sum(-1).float()
    union = (a | b).flatten(2).sum(-1).float()
    keep = union > 0
    return (inter[keep] / union[keep]).mean().item()


class FastDecoderTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_fast_equals_exact_in_float32(self):
        for seed in (0, 1):
            d = export_sam2.fast_vs_exact(stand_in(seed), batch_sizes=(1, 4, 9))
            self.assertLessEqual(d["logits"], 1e-4, d)
            self.assertLessEqual(d["iou"], 1e-4, d)
            # The comparison sees real logits, not zeros: the hypernetworks are scaled.
            exact = export_sam2.AmgModel(stand_in(seed)).eval()
            coords, labels = grid_prompts(3)
            with torch.no_grad():
                logits = exact.predict_masks(*embeddings(), coords, labels)[0]
            self.assertGreater(logits.abs().max().item(), 5.0)

    def test_a_fast_form_without_the_pe_is_caught(self):
        real = fast_decoder.FastDecoder.prepare

        def no_pe(self, image_embed, image_pe, dense=None):
            return real(self, image_embed, torch.zeros_like(image_pe), dense)

        fast_decoder.FastDecoder.prepare = no_pe
        try:
            d = export_sam2.fast_vs_exact(stand_in(0))
            with self.assertRaisesRegex(RuntimeError, "fast decoder form differs"):
                export_sam2.export_model(stand_in(0), self.path("bad.pt"), decoder="fast")
        finally:
            fast_decoder.FastDecoder.prepare = real
        self.assertGreater(d["logits"], 1e-2)

    def test_fast_export_records_its_form_and_equals_the_exact_export(self):
        fast_out, exact_out = self.path("fast.pt"), self.path("exact.pt")
        summary = export_sam2.export_model(stand_in(), fast_out, precision="fp32", decoder="fast", batch_sizes=(1, 6))
        export_sam2.export_model(stand_in(), exact_out, precision="fp32", batch_sizes=(1,))
        self.assertEqual(metadata(fast_out)["decoder"], "fast")
        self.assertEqual(metadata(exact_out)["decoder"], "exact")
        self.assertLessEqual(summary["fast_vs_exact_fp32"]["logits"], 1e-4)
        fast, exact = torch.jit.load(fast_out), torch.jit.load(exact_out)
        self.assertFalse(hasattr(exact, "prepare_decoder"))
        coords, labels = grid_prompts(4)
        g = torch.Generator().manual_seed(9)
        mask = torch.randn(16, 1, S // 4, S // 4, generator=g) * 8
        with torch.no_grad():
            emb = exact.encode_image(torch.randn(1, 3, S, S, generator=g))
            context = fast.prepare_decoder(emb[0])
            # The per-image context is the same for any batch: nothing in it is per prompt.
            self.assertTrue(all(t.shape[0] == 1 for t in context))
            a = exact.predict_masks(*emb, coords, labels)
            b = fast.predict_masks_prepared(context, emb[1], emb[2], coords, labels)
            c = fast.predict_masks(*emb, coords, labels)
            e = exact.predict_masks_with_mask_input(*emb, coords, labels, mask)
            f = fast.predict_masks_with_mask_input(*emb, coords, labels, mask)
        for x, y in ((a, b), (a, c), (e, f)):
            self.assertEqual(y[0].shape, (16, 4, S // 4, S // 4))
            self.assertLessEqual((x[0] - y[0]).abs().max().item(), 1e-4)
            self.assertLessEqual((x[1] - y[1]).abs().max().item(), 1e-4)
        # Prompts are independent: one prompt alone gives its row of the batch.
        with torch.no_grad():
            one = fast.predict_masks_prepared(context, emb[1], emb[2], coords[5:6], labels[5:6])
        self.assertLessEqual((one[0][0] - b[0][5]).abs().max().item(), 1e-4)

    def test_bf16_fast_export_masks_match_float32_as_the_exact_bf16_does(self):
        model_fp32 = export_sam2.AmgModel(stand_in()).eval()
        coords, labels = grid_prompts(8)
        emb = embeddings()
        with torch.no_grad():
            ref = model_fp32.predict_masks(*emb, coords, labels)[0]
        ious = {}
        for form in ("exact", "fast"):
            out = self.path(f"bf16_{form}.pt")
            export_sam2.export_model(stand_in(), out, precision="bf16", decoder=form, batch_sizes=(1, 3))
            m = torch.jit.load(out)
            with torch.no_grad():
                logits = m.predict_masks(*(t.bfloat16() for t in emb), coords, labels)[0]
            self.assertEqual(logits.dtype, torch.float32 if form == "fast" else torch.bfloat16)
            ious[form] = mean_iou(ref, logits.float())
        print(f"bf16 vs float32 exact, mean IoU: {ious}", file=sys.stderr)
        self.assertGreaterEqual(ious["fast"], 0.95, ious)
        self.assertGreaterEqual(ious["fast"], ious["exact"] - 0.02, ious)

    def test_exports_record_the_decoder_structure_the_native_decoder_needs(self):
        out = self.path("exact.pt")
        export_sam2.export_model(stand_in(), out, precision="fp32", batch_sizes=(1,))
        self.assertEqual(metadata(out)["mask_decoder"], {"num_heads": HEADS, "iou_prediction_use_sigmoid": True})
        # A decoder without SAM 2's structure gets no key (sam2-amg then assumes SAM 2's values).
        self.assertIsNone(export_sam2._decoder_structure(nn.Linear(2, 2)))

    def test_unknown_decoder_form_is_refused(self):
        with self.assertRaises(ValueError):
            export_sam2.export_model(stand_in(), self.path("x.pt"), decoder="turbo")


def write_exports(folder):
    """fast.pt and exact.pt, float32, of a stand-in with the contract's widths (256-channel
    embeddings, 32- and 64-channel high-resolution features): for the C++ model tests."""
    os.makedirs(folder, exist_ok=True)
    for form in ("fast", "exact"):
        export_sam2.export_model(stand_in(dim=256), os.path.join(folder, f"{form}.pt"), precision="fp32",
                                 architecture="stand-in", decoder=form, batch_sizes=(1, 3))
    print(f"wrote {folder}/fast.pt and exact.pt")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--write-exports":
        write_exports(sys.argv[2])
        sys.exit(0)
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
