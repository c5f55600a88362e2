#!/usr/bin/env python3
"""Export a SAM 2 / 2.1 checkpoint to the TorchScript file sam2-amg loads.

The file follows docs/model-contract.md: three traced methods (encode_image, predict_masks,
predict_masks_with_mask_input) and a `sam2_amg.json` metadata entry. After writing it, the
exporter loads it back and compares it with the eager model on random inputs and several batch
sizes, and fails loudly above a tolerance.

Command line (needs the official `sam2` package and its checkpoint):

    python3 scripts/export_sam2.py --checkpoint sam2.1_hiera_large.pt --config l \
        --device cuda --precision fp32 --out sam2.1_hiera_large.sam2amg.pt

For a sam2-amg built on LibTorch 1.13 (Debian 12), add --device cpu --attention math: torch 2.x
writes attention as aten::scaled_dot_product_attention, which LibTorch 1.13 cannot load.

From Python, with an already built SAM2Base (no hydra needed):

    from export_sam2 import export_model
    export_model(sam2_base, "model.pt", device="cpu", precision="fp32", architecture="sam2.1_hiera_t")
"""
import argparse
import contextlib
import json
import math
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # pragma: no cover - reported to the user
    sys.exit("export_sam2.py needs PyTorch: pip install torch (the version sam2 requires)")

sys.path.insert(0, __file__.rsplit("/", 1)[0] if "/" in __file__ else ".")
from fast_decoder import FastDecoder  # noqa: E402

CONTRACT_VERSION = 1
# ref: sam2/build_sam.py config names, SAM 2.1 and SAM 2.0.
CONFIGS = {
    "t": "configs/sam2.1/sam2.1_hiera_t.yaml",
    "s": "configs/sam2.1/sam2.1_hiera_s.yaml",
    "b+": "configs/sam2.1/sam2.1_hiera_b+.yaml",
    "l": "configs/sam2.1/sam2.1_hiera_l.yaml",
    "2.0-t": "configs/sam2/sam2_hiera_t.yaml",
    "2.0-s": "configs/sam2/sam2_hiera_s.yaml",
    "2.0-b+": "configs/sam2/sam2_hiera_b+.yaml",
    "2.0-l": "configs/sam2/sam2_hiera_l.yaml",
}
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Largest |eager - exported| accepted per precision, for tensors whose largest magnitude is at
# most 20 (trained logits span about +-20); for larger tensors the bound grows in proportion, as
# reduced-precision rounding does (bf16 steps are 0.5 between 64 and 128).
TOLERANCE = {"fp32": 1e-3, "bf16": 0.25, "fp16": 0.1}


def _scaled_diff(a, b):
    """max |a - b| divided by max(1, max |a| / 20): the quantity TOLERANCE bounds."""
    a, b = a.float(), b.float()
    return (a - b).abs().max().item() / max(1.0, a.abs().max().item() / 20.0)


def sdpa_math(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
    """scaled_dot_product_attention written with matmul and softmax, the only form LibTorch < 2.0
    can load. SAM 2 calls it without a mask, causality or dropout (eval)."""
    if attn_mask is not None or is_causal or dropout_p:
        raise NotImplementedError("the math attention form covers SAM 2's calls only (no mask, no dropout)")
    if scale is not None:
        return ((q @ k.transpose(-2, -1)) * scale).softmax(-1) @ v
    return ((q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))).softmax(-1) @ v


NATIVE_SDPA = hasattr(F, "scaled_dot_product_attention")


def ensure_sdpa():
    """torch < 2.0 has no scaled_dot_product_attention; give it the math form (tests only)."""
    if not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = sdpa_math


@contextlib.contextmanager
def _attention(form):
    """form "math": trace (and verify) with the math form of attention, so that the file holds
    matmul/softmax instead of aten::scaled_dot_product_attention, which LibTorch 1.13 (Debian 12)
    does not have. "sdpa": PyTorch's own op, what the reference runs."""
    saved = F.scaled_dot_product_attention
    if form == "math":
        F.scaled_dot_product_attention = sdpa_math
    try:
        yield
    finally:
        F.scaled_dot_product_attention = saved


class ConvTranspose2x2(nn.Module):
    """A ConvTranspose2d with kernel 2 and stride 2 written as one matmul and a pixel shuffle.

    out[b, o, 2h + i, 2w + j] = sum_c x[b, c, h, w] * weight[c, o, i, j] + bias[o], the same sum
    as the convolution. Used only where the platform's own transposed convolution does not run
    in the model dtype (PyTorch 1.13 on the CPU fails for bfloat16: its oneDNN path misreads the
    weight, the fallback is not implemented).
    """

    def __init__(self, conv):
        super().__init__()
        if conv.kernel_size != (2, 2) or conv.stride != (2, 2) or conv.padding != (0, 0) or conv.groups != 1:
            raise ValueError("only kernel 2, stride 2, no padding, one group")
        self.weight = nn.Parameter(conv.weight.detach().clone(), requires_grad=False)
        self.bias = nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x):
        b, c, h, w = x.shape
        o = self.weight.shape[1]
        y = x.permute(0, 2, 3, 1).reshape(b, h * w, c) @ self.weight.reshape(c, o * 4)
        y = y.reshape(b, h, w, o, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, o, 2 * h, 2 * w)
        return y + self.bias.reshape(1, o, 1, 1)


def _conv_transpose_runs(device, dtype):
    conv = nn.ConvTranspose2d(4, 2, 2, 2).to(device, dtype)
    try:
        with torch.no_grad():
            conv(torch.zeros(1, 4, 2, 2, device=device, dtype=dtype))
        return True
    except RuntimeError:
        return False


class AmgModel(nn.Module):
    """The SAM 2 image path as the two graphs of the contract.

    encode_image: ref sam2_base.py forward_image + _prepare_backbone_features and
    sam2_image_predictor.py set_image (no_mem_embed added per channel).
    predict_masks*: ref sam2_image_predictor.py _predict with the prompt encoder's point path and
    MaskDecoder.predict_masks, returning all four tokens; token selection happens in sam2-amg.
    """

    def __init__(self, model):
        super().__init__()
        if not model.use_high_res_features_in_sam or not model.directly_add_no_mem_embed:
            raise ValueError("this SAM2Base does not use high-res features and no_mem_embed as SAM 2 does")
        self.image_encoder = model.image_encoder
        self.conv_s0 = model.sam_mask_decoder.conv_s0
        self.conv_s1 = model.sam_mask_decoder.conv_s1
        self.no_mem_embed = nn.Parameter(model.no_mem_embed.detach().clone(), requires_grad=False)
        self.prompt_encoder = model.sam_prompt_encoder
        self.mask_decoder = model.sam_mask_decoder
        # get_dense_pe() creates tensors with factories; precompute it once (in float32: it is
        # rounded once to the model dtype when the module is cast).
        self.register_buffer("image_pe", model.sam_prompt_encoder.get_dense_pe().detach().clone())
        self.dtype = torch.float32
        self.replaced_conv_transpose = False

    def cast(self, device, dtype):
        """Moves to `device` and casts to `dtype`, except the point positional encoding.

        Point coordinates and their random-Fourier encoding stay float32 whatever the model dtype:
        in bf16 the +0.5 pixel shift is lost above 256 (1008.5 -> 1008) and the Gaussian matrix
        would turn float32 coordinates into a dtype mismatch. The encoded points are rounded to
        the model dtype once, after the label embeddings are added.
        """
        if not _conv_transpose_runs(device, dtype):
            up = self.mask_decoder.output_upscaling
            for i, m in enumerate(up):
                if isinstance(m, nn.ConvTranspose2d):
                    up[i] = ConvTranspose2x2(m)
            self.replaced_conv_transpose = True
        pe = self.prompt_encoder.pe_layer
        gaussian = pe.positional_encoding_gaussian_matrix.detach().to(device, torch.float32).clone()
        self.to(device=device, dtype=dtype)
        pe.positional_encoding_gaussian_matrix = gaussian
        self.dtype = dtype
        return self

    def encode_image(self, image):
        image = image.to(self.dtype)
        fpn = self.image_encoder(image)["backbone_fpn"]
        feat_s0 = self.conv_s0(fpn[0])
        feat_s1 = self.conv_s1(fpn[1])
        # The FPN's top-down path interpolates in float32, so level 2 comes out float32 when the
        # model is bf16/fp16; the sum is rounded to the model dtype once.
        image_embed = (fpn[2] + self.no_mem_embed.reshape(1, -1, 1, 1)).to(self.dtype)
        return image_embed, feat_s0.to(self.dtype), feat_s1.to(self.dtype)

    def _decode(self, image_embed, feat_s0, feat_s1, point_coords, point_labels, dense):
        # The caller appends the padding point, so no padding (and no factory op) here.
        # Coordinates are float32 (see cast); label embeddings are added in float32.
        # The embeddings are converted too (a no-op for encode_image's own outputs).
        sparse = self.prompt_encoder._embed_points(point_coords.to(torch.float32), point_labels, pad=False)
        masks, iou, _, _ = self.mask_decoder.predict_masks(
            image_embeddings=image_embed.to(self.dtype),
            image_pe=self.image_pe,
            sparse_prompt_embeddings=sparse.to(self.dtype),
            dense_prompt_embeddings=dense,
            repeat_image=True,
            high_res_features=[feat_s0.to(self.dtype), feat_s1.to(self.dtype)],
        )
        return masks, iou

    def predict_masks(self, image_embed, feat_s0, feat_s1, point_coords, point_labels):
        b = point_coords.shape[0]
        h, w = image_embed.shape[-2:]
        dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, h, w)
        return self._decode(image_embed, feat_s0, feat_s1, point_coords, point_labels, dense)

    def predict_masks_with_mask_input(self, image_embed, feat_s0, feat_s1, point_coords, point_labels, mask_input):
        dense = self.prompt_encoder.mask_downscaling(mask_input.to(self.dtype))
        return self._decode(image_embed, feat_s0, feat_s1, point_coords, point_labels, dense)


class FastAmgModel(AmgModel):
    """AmgModel with the decoder in the fast form (scripts/fast_decoder.py), for bf16/fp16.

    Besides the contract's three methods (the same computation, in the fast form) it has
    prepare_decoder(image_embed) -> context, the prompt-independent tensors of one image, and
    predict_masks_prepared(context, feat_s0, feat_s1, point_coords, point_labels), which
    predict_masks is. low_res_logits come out float32 (docs/model-contract.md, "decoder")."""

    def __init__(self, model):
        super().__init__(model)
        self.fast = FastDecoder(self.prompt_encoder, self.mask_decoder)

    def cast(self, device, dtype):
        super().cast(device, dtype)
        self.fast.dtype = dtype
        return self

    def _sparse(self, point_coords, point_labels):
        # As AmgModel._decode: coordinates and label embeddings in float32, rounded once.
        return self.prompt_encoder._embed_points(point_coords.to(torch.float32), point_labels, pad=False).to(self.dtype)

    def prepare_decoder(self, image_embed):
        return self.fast.prepare(image_embed, self.image_pe)

    def predict_masks_prepared(self, context, feat_s0, feat_s1, point_coords, point_labels):
        return self.fast(context, feat_s0, feat_s1, self._sparse(point_coords, point_labels), True)

    def predict_masks(self, image_embed, feat_s0, feat_s1, point_coords, point_labels):
        return self.predict_masks_prepared(self.prepare_decoder(image_embed), feat_s0, feat_s1, point_coords,
                                           point_labels)

    def predict_masks_with_mask_input(self, image_embed, feat_s0, feat_s1, point_coords, point_labels, mask_input):
        dense = self.prompt_encoder.mask_downscaling(mask_input.to(self.dtype))
        context = self.fast.prepare(image_embed, self.image_pe, dense)
        return self.fast(context, feat_s0, feat_s1, self._sparse(point_coords, point_labels), False)


DECODERS = ("exact", "fast")


def fast_vs_exact(model, device="cpu", batch_sizes=(1, 3), seed=5):
    """The fast decoder form against the reference's, both float32, on random embeddings of the
    model's shapes (no image encoder run). Returns the largest |difference| of the logits and of
    the scores, absolute and relative to magnitude 20 (as TOLERANCE), over both decoder methods,
    and the largest |logit| (the scale the differences are to be read against)."""
    ensure_sdpa()
    exact = AmgModel(model).eval()
    fast = FastAmgModel(model).eval()
    g = torch.Generator().manual_seed(seed)
    s = model.image_size
    c = model.sam_mask_decoder.transformer_dim
    emb = (torch.randn(1, c, s // 16, s // 16, generator=g).to(device),
           torch.randn(1, c // 8, s // 4, s // 4, generator=g).to(device),
           torch.randn(1, c // 4, s // 8, s // 8, generator=g).to(device))
    worst = {"logits": 0.0, "iou": 0.0, "scaled": 0.0, "largest_logit": 0.0}
    with torch.no_grad():
        for batch in batch_sizes:
            _, coords, labels, mask = _inputs(model, device, torch.float32, batch, seed=seed + batch)
            for name, extra in (("predict_masks", ()), ("predict_masks_with_mask_input", (mask,))):
                e = getattr(exact, name)(*emb, coords, labels, *extra)
                f = getattr(fast, name)(*emb, coords, labels, *extra)
                worst["largest_logit"] = max(worst["largest_logit"], e[0].abs().max().item())
                for key, a, b in (("logits", e[0], f[0]), ("iou", e[1], f[1])):
                    worst[key] = max(worst[key], (a.float() - b.float()).abs().max().item())
                    worst["scaled"] = max(worst["scaled"], _scaled_diff(a, b))
    return worst


def _inputs(model, device, dtype, batch, seed):
    """Random inputs with the contract's dtypes: coordinates float32, other floats `dtype`."""
    g = torch.Generator().manual_seed(seed)
    size = model.image_size
    lr = size // 4
    img = torch.randn(1, 3, size, size, generator=g).to(device, dtype)
    coords = (torch.rand(batch, 2, 2, generator=g) * size).to(device, torch.float32)
    labels = torch.tensor([[1, -1]], dtype=torch.int32).repeat(batch, 1).to(device)
    mask = (torch.randn(batch, 1, lr, lr, generator=g) * 8).to(device, dtype)
    return img, coords, labels, mask


def _decoder_structure(dec):
    """What sam2-amg's native decoder needs besides the weights (docs/model-contract.md, "The
    native decoder"): the attention heads and whether the IoU head ends in a sigmoid; None for a
    decoder without SAM 2's structure."""
    try:
        head = dec.iou_prediction_head
        sigmoid = head.sigmoid_output if hasattr(head, "sigmoid_output") else head.sigmoid
        return {"num_heads": int(dec.transformer.layers[0].self_attn.num_heads),
                "iou_prediction_use_sigmoid": bool(sigmoid)}
    except AttributeError:
        return None


def metadata_for(model, architecture, precision, device, source, cudnn_tf32=None, attention=None, decoder=None):
    dec = model.sam_mask_decoder
    meta = {
        "contract_version": CONTRACT_VERSION,
        "architecture": architecture,
        "image_size": int(model.image_size),
        "pixel_mean": [0.485, 0.456, 0.406],
        "pixel_std": [0.229, 0.224, 0.225],
        "precision": precision,
        "device": "cuda" if str(device).startswith("cuda") else "cpu",
        "dynamic_multimask_via_stability": {
            "enabled": bool(dec.dynamic_multimask_via_stability),
            "delta": float(dec.dynamic_multimask_stability_delta),
            "thresh": float(dec.dynamic_multimask_stability_thresh),
        },
        "source": source,
        # Optional keys (contract 1 readers ignore them; see docs/model-contract.md).
        "point_coords_dtype": "fp32",
        "torch_version": torch.__version__,
    }
    structure = _decoder_structure(dec)
    if structure:
        meta["mask_decoder"] = structure
    if cudnn_tf32 is not None:
        meta["cudnn_allow_tf32"] = bool(cudnn_tf32)
    if attention is not None:
        meta["attention"] = attention
    if decoder is not None:
        meta["decoder"] = decoder
    return meta


class _Tf32:
    """Sets torch.backends.cudnn.allow_tf32 (None: leave it) and restores it on exit."""

    def __init__(self, value):
        self.value = value

    def __enter__(self):
        self.saved = torch.backends.cudnn.allow_tf32
        if self.value is not None:
            torch.backends.cudnn.allow_tf32 = bool(self.value)
        return torch.backends.cudnn.allow_tf32

    def __exit__(self, *exc):
        torch.backends.cudnn.allow_tf32 = self.saved


def export_model(model, out, device="cpu", precision="fp32", architecture="sam2", source="", batch_sizes=(1, 3, 7),
                 cudnn_tf32=None, attention="sdpa", decoder="exact"):
    """Traces `model` (a built SAM2Base) into `out`, verifies it and returns a summary dict.

    cudnn_tf32: the value of torch.backends.cudnn.allow_tf32 while tracing and verifying. Tracing
    stores it as a constant of every convolution, so it decides whether the file's convolutions may
    use TF32 on Ampere and later GPUs. None keeps PyTorch's current setting (its default is True,
    which is what the reference runs with unless told otherwise); the value used is recorded in
    the metadata as `cudnn_allow_tf32` either way.

    attention: "sdpa" keeps PyTorch's scaled_dot_product_attention (needs LibTorch >= 2.0 to load);
    "math" writes it as matmul + softmax so that LibTorch 1.13 loads the file. torch < 2.0 has
    only the math form. The form in the file is recorded as `attention`.

    decoder: "exact" traces the reference's decoder as it is; "fast" the fast form of
    scripts/fast_decoder.py (for bf16/fp16; it adds prepare_decoder and predict_masks_prepared).
    A fast export is first compared with the exact form in float32 (fast_vs_exact) and fails above
    TOLERANCE["fp32"]. Recorded as `decoder`.

    Raises RuntimeError when the exported file differs from the eager model beyond the tolerance.
    """
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {sorted(DTYPES)}, not {precision!r}")
    if attention not in ("sdpa", "math"):
        raise ValueError(f"attention must be sdpa or math, not {attention!r}")
    if decoder not in DECODERS:
        raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, not {decoder!r}")
    ensure_sdpa()
    form = attention if NATIVE_SDPA else "math"
    with _Tf32(cudnn_tf32) as tf32, _attention(form):
        return _export(model, out, device, precision, architecture, source, batch_sizes, tf32, form, decoder)


@contextlib.contextmanager
def _batch_repeat_on_device():
    """The decoder repeats the one image embedding and positional encoding per prompt with
    torch.repeat_interleave(x, tokens.shape[0], dim=0). Traced on CUDA by torch 2.x, that op
    builds its index on the CPU and fails ("index is on cpu"). While tracing, a batch-1 repeat
    along dim 0 becomes expand + contiguous: the same values in the same contiguous layout, and
    the traced batch size stays dynamic. Other calls are left to the real op."""
    real = torch.repeat_interleave

    def repeat(input, repeats=None, dim=None, **kwargs):
        # While tracing, tokens.shape[0] arrives as a 0-dim tensor (the traced size).
        count = isinstance(repeats, int) or (isinstance(repeats, torch.Tensor) and repeats.dim() == 0)
        if dim == 0 and not kwargs and count and isinstance(input, torch.Tensor) and input.dim() > 0 \
                and input.shape[0] == 1:
            return input.expand(repeats, *([-1] * (input.dim() - 1))).contiguous()
        return real(input, repeats, dim, **kwargs)

    torch.repeat_interleave = repeat
    try:
        yield
    finally:
        torch.repeat_interleave = real


def _export(model, out, device, precision, architecture, source, batch_sizes, tf32, attention, decoder):
    ensure_sdpa()
    dtype = DTYPES[precision]
    try:
        F.conv2d(torch.zeros(1, 1, 2, 2, device=device, dtype=dtype), torch.zeros(1, 1, 1, 1, device=device, dtype=dtype))
    except RuntimeError as e:
        raise ValueError(f"this PyTorch cannot run {precision} convolutions on {device} ({e}); "
                         f"export {precision} on a GPU") from None
    model = model.to(device).eval()
    fast = decoder == "fast"
    structural = None
    if fast:
        # Before the cast: the fast form must compute the reference's decoder.
        structural = fast_vs_exact(model, device)
        if structural["scaled"] > TOLERANCE["fp32"]:
            raise RuntimeError(f"the fast decoder form differs from the exact one in float32 by {structural}")
    wrapper = (FastAmgModel if fast else AmgModel)(model).cast(device, dtype).eval()
    img, coords, labels, mask = _inputs(model, device, dtype, 2, seed=0)
    with torch.no_grad(), _batch_repeat_on_device():
        emb = wrapper.encode_image(img)
        # Traced at batch 2 with repeat_image=True: the batch size stays dynamic (spec §4.3).
        methods = {
            "encode_image": (img,),
            "predict_masks": (*emb, coords, labels),
            "predict_masks_with_mask_input": (*emb, coords, labels, mask),
        }
        if fast:
            methods["prepare_decoder"] = (emb[0],)
            methods["predict_masks_prepared"] = (wrapper.prepare_decoder(emb[0]), emb[1], emb[2], coords, labels)
        traced = torch.jit.trace_module(wrapper, methods, check_trace=False)
    meta = metadata_for(model, architecture, precision, device, source, cudnn_tf32=tf32, attention=attention,
                        decoder=decoder)
    torch.jit.save(traced, out, _extra_files={"sam2_amg.json": json.dumps(meta, indent=2)})

    # Verify: the saved file against the eager model, fresh inputs, several batch sizes.
    loaded = torch.jit.load(out, map_location=device)
    worst = 0.0
    worst_scaled = 0.0
    with torch.no_grad():
        img, _, _, _ = _inputs(model, device, dtype, 1, seed=1)
        eager_emb = wrapper.encode_image(img)
        file_emb = loaded.encode_image(img)
        if any(t.dtype != dtype for t in file_emb):
            raise RuntimeError(f"encode_image returned {[t.dtype for t in file_emb]}, not {dtype}")
        for a, b in zip(eager_emb, file_emb):
            worst = max(worst, (a.float() - b.float()).abs().max().item())
            worst_scaled = max(worst_scaled, _scaled_diff(a, b))
        for batch in batch_sizes:
            _, coords, labels, mask = _inputs(model, device, dtype, batch, seed=10 + batch)
            for name, extra in (("predict_masks", ()), ("predict_masks_with_mask_input", (mask,))):
                e = getattr(wrapper, name)(*eager_emb, coords, labels, *extra)
                f = getattr(loaded, name)(*eager_emb, coords, labels, *extra)
                if f[0].shape != (batch, 4, model.image_size // 4, model.image_size // 4) or f[1].shape != (batch, 4):
                    raise RuntimeError(f"{name} at batch {batch} returned shapes {f[0].shape}, {f[1].shape}")
                # The fast form's logits are float32 (docs/model-contract.md, "decoder").
                if f[0].dtype != (torch.float32 if fast else dtype) or f[1].dtype != dtype:
                    raise RuntimeError(f"{name} returned {f[0].dtype}, {f[1].dtype}, not {dtype}")
                for a, b in zip(e, f):
                    worst = max(worst, (a.float() - b.float()).abs().max().item())
                    worst_scaled = max(worst_scaled, _scaled_diff(a, b))
            if fast:
                # The per-image context must give what predict_masks gives (same ops, may fuse apart).
                _, coords, labels, _ = _inputs(model, device, dtype, batch, seed=30 + batch)
                a = loaded.predict_masks(*eager_emb, coords, labels)
                b = loaded.predict_masks_prepared(loaded.prepare_decoder(eager_emb[0]), eager_emb[1], eager_emb[2],
                                                  coords, labels)
                for x, y in zip(a, b):
                    worst = max(worst, (x.float() - y.float()).abs().max().item())
                    worst_scaled = max(worst_scaled, _scaled_diff(x, y))
    if worst_scaled > TOLERANCE[precision]:
        raise RuntimeError(f"exported model differs from the eager model by {worst:g} "
                           f"({worst_scaled:g} relative to magnitude 20, > {TOLERANCE[precision]:g})")
    return {"out": out, "metadata": meta, "max_abs_diff": worst, "max_scaled_diff": worst_scaled,
            "batch_sizes": list(batch_sizes), "fast_vs_exact_fp32": structural}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="official checkpoint, e.g. sam2.1_hiera_large.pt")
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)} or a sam2 config path")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="device to trace on; the file runs only there (default: cuda when available)")
    p.add_argument("--precision", default="fp32", choices=sorted(DTYPES))
    p.add_argument("--no-postprocessing", action="store_true",
                   help="build_sam2(apply_postprocessing=False): no dynamic multimask fallback (the AMG notebook)")
    p.add_argument("--cudnn-tf32", choices=("on", "off", "default"), default="default",
                   help="torch.backends.cudnn.allow_tf32 while tracing; it is stored in every traced convolution "
                        "(default: PyTorch's setting, True unless changed; recorded in the metadata)")
    p.add_argument("--attention", choices=("sdpa", "math"), default="sdpa",
                   help="sdpa: PyTorch's scaled_dot_product_attention, as the reference runs (the file needs "
                        "LibTorch >= 2.0); math: matmul + softmax, for a sam2-amg built on LibTorch 1.13 "
                        "(Debian 12). Recorded in the metadata (default sdpa; torch < 2.0 always writes math)")
    p.add_argument("--decoder", choices=DECODERS, default="exact",
                   help="exact: the reference's decoder as it is (the parity path); fast: the fast form for "
                        "bf16/fp16 (image-side work once per image, no per-prompt copies; scripts/fast_decoder.py). "
                        "Recorded in the metadata (default exact)")
    p.add_argument("--out", required=True, help="output .pt file")
    args = p.parse_args(argv)

    ensure_sdpa()
    try:
        from sam2.build_sam import build_sam2
    except ImportError as e:
        sys.exit(f"cannot import sam2 ({e}): install facebookresearch/sam2 (pip install -e .) first")
    config = CONFIGS.get(args.config, args.config)
    t0 = time.time()
    try:
        model = build_sam2(config, args.checkpoint, device=args.device,
                           apply_postprocessing=not args.no_postprocessing)
    except RuntimeError as e:
        sys.exit(f"checkpoint {args.checkpoint} does not match config {config}: {str(e)[:500]}")
    arch = config.rsplit("/", 1)[-1].removesuffix(".yaml")
    summary = export_model(model, args.out, args.device, args.precision, arch,
                           source=f"{args.checkpoint} ({config}), exported by sam2-amg scripts/export_sam2.py",
                           cudnn_tf32={"on": True, "off": False, "default": None}[args.cudnn_tf32],
                           attention=args.attention, decoder=args.decoder)
    meta = summary["metadata"]
    print(f"wrote {args.out}: {arch}, {meta['precision']}, device {meta['device']}, dynamic multimask "
          f"{'on' if meta['dynamic_multimask_via_stability']['enabled'] else 'off'}, cudnn TF32 "
          f"{'on' if meta['cudnn_allow_tf32'] else 'off'}, attention {meta['attention']}, decoder {meta['decoder']}, "
          f"torch {meta['torch_version']}; "
          f"verified at batch sizes {summary['batch_sizes']}: max |eager - exported| = {summary['max_abs_diff']:.3g} "
          f"({time.time() - t0:.0f} s)")
    if summary["fast_vs_exact_fp32"]:
        d = summary["fast_vs_exact_fp32"]
        print(f"fast decoder vs exact in float32: max |diff| logits {d['logits']:.3g}, scores {d['iou']:.3g}")


if __name__ == "__main__":
    main()
