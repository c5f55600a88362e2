#!/usr/bin/env python3
"""Tests of scripts/export_sam2.py on a small stand-in for SAM2Base (seconds, no sam2 needed).

The stand-in has the attributes and methods the exporter's wrapper uses (image encoder with an
FPN whose level 2 comes out float32 as SAM 2's does, a prompt encoder with a random-Fourier point
encoding, a mask decoder with high-resolution features and 2x2 transposed convolutions), with
tiny sizes. Checked:

- the metadata records the torch version, float32 point coordinates and the cuDNN TF32 setting;
- the cuDNN TF32 setting is really stored in every traced convolution, and restored afterwards;
- a bf16 export traces, verifies, returns bf16 tensors, keeps the point encoding in float32,
  tells coordinates apart that bf16 would merge (1008 and 1009) and accepts float32 inputs;
- the matmul form of the 2x2 transposed convolution equals nn.ConvTranspose2d;
- the attention form is recorded; "math" leaves no aten::scaled_dot_product_attention in the
  file (LibTorch 1.13 cannot load that op) and equals PyTorch's op where it has one;
- the decoder's per-prompt repeat of the image embedding is traced without repeat_interleave
  (torch 2.x fails to trace that op on CUDA) and the batch size stays dynamic.

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
    reason = "PyTorch is not importable by " + sys.executable
    print("SKIP:", reason)
    if os.environ.get("SAM2AMG_SKIP_LOG"):  # scripts/run-tests.sh lists the skips with reasons
        with open(os.environ["SAM2AMG_SKIP_LOG"], "a") as log:
            log.write("export_sam2_py: " + reason + "\n")
    sys.exit(77)

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import export_sam2  # noqa: E402
from prompt_standin import PromptEncoder  # noqa: E402

C = 32  # embedding width
S = 64  # input size; low-res masks are S/4


class MaskDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv_s0 = nn.Conv2d(C, 8, 1)
        self.conv_s1 = nn.Conv2d(C, 16, 1)
        self.output_upscaling = nn.Sequential(nn.ConvTranspose2d(C, 16, 2, 2), nn.Identity(), nn.GELU(),
                                              nn.ConvTranspose2d(16, 8, 2, 2), nn.GELU())
        self.hyper = nn.Linear(C, 4 * 8)
        self.iou_head = nn.Linear(C, 4)
        self.dynamic_multimask_via_stability = True
        self.dynamic_multimask_stability_delta = 0.05
        self.dynamic_multimask_stability_thresh = 0.98

    def predict_masks(self, image_embeddings, image_pe, sparse_prompt_embeddings, dense_prompt_embeddings,
                      repeat_image, high_res_features):
        b = sparse_prompt_embeddings.shape[0]
        src = torch.repeat_interleave(image_embeddings, b, dim=0) + dense_prompt_embeddings + image_pe
        tokens = sparse_prompt_embeddings.sum(1) + src.mean((2, 3))
        # One attention of the tokens over the image, through F as SAM 2 calls it.
        kv = src.flatten(2).transpose(1, 2).unsqueeze(1)
        tokens = tokens + F.scaled_dot_product_attention(tokens[:, None, None, :], kv, kv)[:, 0, 0, :]
        dc1, _, act1, dc2, act2 = self.output_upscaling
        feat_s0, feat_s1 = high_res_features
        up = act2(dc2(act1(dc1(src) + feat_s1)) + feat_s0)
        masks = (self.hyper(tokens).reshape(b, 4, 8) @ up.flatten(2)).reshape(b, 4, S // 4, S // 4)
        return masks, torch.sigmoid(self.iou_head(tokens)), None, None


class ImageEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.p0 = nn.Conv2d(3, C, 4, stride=4)
        self.p1 = nn.Conv2d(C, C, 2, stride=2)
        self.p2 = nn.Conv2d(C, C, 2, stride=2)
        self.p3 = nn.Conv2d(C, C, 2, stride=2)

    def forward(self, x):
        f0 = self.p0(x)
        f1 = self.p1(f0)
        f2 = self.p2(f1)
        top = self.p3(f2)
        # As SAM 2's FpnNeck: the top-down path is interpolated in float32.
        f2 = f2 + F.interpolate(top.to(torch.float32), scale_factor=2.0, mode="nearest")
        return {"backbone_fpn": [f0, f1, f2]}


class StandIn(nn.Module):
    def __init__(self):
        super().__init__()
        self.image_encoder = ImageEncoder()
        self.sam_mask_decoder = MaskDecoder()
        self.sam_prompt_encoder = PromptEncoder(C, S)
        self.no_mem_embed = nn.Parameter(torch.randn(1, 1, C))
        self.image_size = S
        self.use_high_res_features_in_sam = True
        self.directly_add_no_mem_embed = True


def stand_in(seed=0):
    torch.manual_seed(seed)
    return StandIn().eval()


def metadata(path):
    with zipfile.ZipFile(path) as z:
        name = next(n for n in z.namelist() if n.endswith("/extra/sam2_amg.json"))
        return json.loads(z.read(name))


def conv_tf32_flags(module):
    """allow_tf32 (the last argument) of every aten::_convolution in the module's methods."""
    flags = []
    for method in ("encode_image", "predict_masks", "predict_masks_with_mask_input"):
        graph = getattr(module, method).graph.copy()
        torch._C._jit_pass_inline(graph)
        for node in graph.nodes():
            if node.kind() == "aten::_convolution":
                flags.append(list(node.inputs())[-1].toIValue())
    return flags


def graph_kinds(module):
    """Every node kind in the module's three methods, calls inlined."""
    kinds = set()
    for method in ("encode_image", "predict_masks", "predict_masks_with_mask_input"):
        graph = getattr(module, method).graph.copy()
        torch._C._jit_pass_inline(graph)
        kinds |= {node.kind() for node in graph.nodes()}
    return kinds


class ExportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name):
        return os.path.join(self.dir.name, name)

    def test_metadata_records_torch_version_coords_dtype_and_tf32(self):
        out = self.path("fp32.pt")
        summary = export_sam2.export_model(stand_in(), out, precision="fp32", architecture="stand-in")
        meta = metadata(out)
        self.assertEqual(meta["contract_version"], 1)
        self.assertEqual(meta["torch_version"], torch.__version__)
        self.assertEqual(meta["point_coords_dtype"], "fp32")
        self.assertEqual(meta["cudnn_allow_tf32"], torch.backends.cudnn.allow_tf32)
        self.assertLessEqual(summary["max_abs_diff"], export_sam2.TOLERANCE["fp32"])

    def test_cudnn_tf32_is_stored_in_every_traced_convolution(self):
        before = torch.backends.cudnn.allow_tf32
        for flag in (False, True):
            out = self.path(f"tf32_{flag}.pt")
            export_sam2.export_model(stand_in(), out, precision="fp32", cudnn_tf32=flag)
            self.assertEqual(torch.backends.cudnn.allow_tf32, before, "the global setting must be restored")
            self.assertEqual(metadata(out)["cudnn_allow_tf32"], flag)
            flags = conv_tf32_flags(torch.jit.load(out))
            # encode_image: 4 encoder convs + conv_s0 + conv_s1; decoder: 2 transposed, +1 mask conv.
            self.assertGreaterEqual(len(flags), 6 + 2 + 2 + 1)
            self.assertEqual(set(flags), {flag})

    def test_bf16_export_keeps_coordinates_float32(self):
        out = self.path("bf16.pt")
        summary = export_sam2.export_model(stand_in(), out, precision="bf16")
        self.assertLessEqual(summary["max_abs_diff"], export_sam2.TOLERANCE["bf16"])
        self.assertEqual(metadata(out)["precision"], "bf16")
        m = torch.jit.load(out)
        self.assertEqual(m.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.dtype, torch.float32)
        self.assertEqual(m.image_pe.dtype, torch.bfloat16)
        with torch.no_grad():
            emb = m.encode_image(torch.randn(1, 3, S, S, dtype=torch.bfloat16))
            self.assertEqual([t.dtype for t in emb], [torch.bfloat16] * 3)
            labels = torch.tensor([[1, -1]], dtype=torch.int32)

            def predict(x):
                coords = torch.tensor([[[x, 10.0], [0.0, 0.0]]], dtype=torch.float32)
                return m.predict_masks(*emb, coords, labels)

            # S is 64 here; the encoding only sees x / S, so scale the coordinates: 1008 and 1009
            # of a 1024 model are 63.0 and 63.0625 here, both 1008 in bf16 at 1024 scale.
            a, b = predict(1008.0 * S / 1024), predict(1009.0 * S / 1024)
            self.assertEqual(a[0].dtype, torch.bfloat16)
            self.assertEqual(a[1].dtype, torch.bfloat16)
            self.assertFalse(torch.equal(a[0], b[0]), "coordinates 1/16 px apart must give different masks")
            # What bf16 coordinates would have done: 63.0 and 63.0625 are the same bf16 number.
            self.assertEqual(torch.tensor(63.0).bfloat16().item(), torch.tensor(63.0625).bfloat16().item())
            # The +0.5 shift survives: x and x + 0.5 differ, and bf16 coordinates are accepted.
            self.assertFalse(torch.equal(predict(63.0)[0], predict(63.5)[0]))
            coords16 = torch.tensor([[[30.0, 10.0], [0.0, 0.0]]], dtype=torch.bfloat16)
            self.assertTrue(torch.equal(m.predict_masks(*emb, coords16, labels)[0], predict(30.0)[0]))
            # float32 embeddings are converted in the graph (bf16 ones pass through unchanged).
            coords = torch.tensor([[[30.0, 10.0], [0.0, 0.0]]], dtype=torch.float32)
            from32 = m.predict_masks(*(t.float() for t in emb), coords, labels)[0]
            self.assertTrue(torch.equal(from32, predict(30.0)[0]))

    def test_conv_transpose_2x2_matches_conv_transpose(self):
        torch.manual_seed(1)
        conv = nn.ConvTranspose2d(8, 5, 2, 2)
        x = torch.randn(3, 8, 6, 7)
        with torch.no_grad():
            diff = (export_sam2.ConvTranspose2x2(conv)(x) - conv(x)).abs().max().item()
        self.assertLess(diff, 1e-5)

    def test_attention_form_is_recorded_and_math_leaves_no_sdpa_op(self):
        for form in ("math", "sdpa"):
            out = self.path(f"attn_{form}.pt")
            export_sam2.export_model(stand_in(), out, precision="fp32", attention=form)
            written = form if export_sam2.NATIVE_SDPA else "math"
            self.assertEqual(metadata(out)["attention"], written)
            self.assertEqual(graph_kinds(torch.jit.load(out)) >= {"aten::scaled_dot_product_attention"},
                             written == "sdpa")
        with self.assertRaises(ValueError):
            export_sam2.export_model(stand_in(), self.path("x.pt"), attention="flash")
        if export_sam2.NATIVE_SDPA:
            torch.manual_seed(2)
            q, k, v = torch.randn(2, 3, 5, 8), torch.randn(2, 3, 7, 8), torch.randn(2, 3, 7, 8)
            diff = (export_sam2.sdpa_math(q, k, v) - F.scaled_dot_product_attention(q, k, v)).abs().max().item()
            self.assertLess(diff, 1e-5)

    def test_prompt_repeat_is_traced_without_repeat_interleave(self):
        out = self.path("repeat.pt")
        export_sam2.export_model(stand_in(), out, precision="fp32", batch_sizes=(1, 5))
        m = torch.jit.load(out)
        self.assertNotIn("aten::repeat_interleave", graph_kinds(m))
        self.assertIs(torch.repeat_interleave, torch._C._VariableFunctions.repeat_interleave,
                      "the real op must be restored after tracing")

    def test_fp16_exports_or_says_it_needs_a_gpu(self):
        out = self.path("fp16.pt")
        try:
            export_sam2.export_model(stand_in(), out, precision="fp16")
        except ValueError as e:
            self.assertIn("GPU", str(e))
        else:
            self.assertEqual(metadata(out)["precision"], "fp16")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
