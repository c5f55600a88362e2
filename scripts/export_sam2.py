#!/usr/bin/env python3
"""Export a SAM 2 / 2.1 checkpoint to the TorchScript file sam2-amg loads.

The file follows docs/model-contract.md: three traced methods (encode_image, predict_masks,
predict_masks_with_mask_input) and a `sam2_amg.json` metadata entry. After writing it, the
exporter loads it back and compares it with the eager model on random inputs and several batch
sizes, and fails loudly above a tolerance.

Command line (needs the official `sam2` package and its checkpoint):

    python3 scripts/export_sam2.py --checkpoint sam2.1_hiera_large.pt --config l \
        --device cuda --precision fp32 --out sam2.1_hiera_large.cuda.fp32.pt

From Python, with an already built SAM2Base (no hydra needed):

    from export_sam2 import export_model
    export_model(sam2_base, "model.pt", device="cpu", precision="fp32", architecture="sam2.1_hiera_t")
"""
import argparse
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
# Largest |eager - exported| accepted per precision (logits span about +-20).
TOLERANCE = {"fp32": 1e-3, "bf16": 0.25, "fp16": 0.1}


def ensure_sdpa():
    """torch < 2.0 has no scaled_dot_product_attention; give it the math form (tests only)."""
    if hasattr(F, "scaled_dot_product_attention"):
        return

    def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False):
        return ((q @ k.transpose(-2, -1)) / math.sqrt(q.size(-1))).softmax(-1) @ v

    F.scaled_dot_product_attention = sdpa


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
        # get_dense_pe() creates tensors with factories; precompute it once.
        self.register_buffer("image_pe", model.sam_prompt_encoder.get_dense_pe().detach().clone())

    def encode_image(self, image):
        fpn = self.image_encoder(image)["backbone_fpn"]
        feat_s0 = self.conv_s0(fpn[0])
        feat_s1 = self.conv_s1(fpn[1])
        image_embed = fpn[2] + self.no_mem_embed.reshape(1, -1, 1, 1)
        return image_embed, feat_s0, feat_s1

    def _decode(self, image_embed, feat_s0, feat_s1, point_coords, point_labels, dense):
        # The caller appends the padding point, so no padding (and no factory op) here.
        sparse = self.prompt_encoder._embed_points(point_coords, point_labels, pad=False)
        masks, iou, _, _ = self.mask_decoder.predict_masks(
            image_embeddings=image_embed,
            image_pe=self.image_pe,
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            repeat_image=True,
            high_res_features=[feat_s0, feat_s1],
        )
        return masks, iou

    def predict_masks(self, image_embed, feat_s0, feat_s1, point_coords, point_labels):
        b = point_coords.shape[0]
        h, w = image_embed.shape[-2:]
        dense = self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1).expand(b, -1, h, w)
        return self._decode(image_embed, feat_s0, feat_s1, point_coords, point_labels, dense)

    def predict_masks_with_mask_input(self, image_embed, feat_s0, feat_s1, point_coords, point_labels, mask_input):
        dense = self.prompt_encoder.mask_downscaling(mask_input)
        return self._decode(image_embed, feat_s0, feat_s1, point_coords, point_labels, dense)


def _inputs(model, device, dtype, batch, seed):
    g = torch.Generator().manual_seed(seed)
    size = model.image_size
    lr = size // 4
    img = torch.randn(1, 3, size, size, generator=g).to(device, dtype)
    coords = (torch.rand(batch, 2, 2, generator=g) * size).to(device, dtype)
    labels = torch.tensor([[1, -1]], dtype=torch.int32).repeat(batch, 1).to(device)
    mask = (torch.randn(batch, 1, lr, lr, generator=g) * 8).to(device, dtype)
    return img, coords, labels, mask


def metadata_for(model, architecture, precision, device, source):
    dec = model.sam_mask_decoder
    return {
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
    }


def export_model(model, out, device="cpu", precision="fp32", architecture="sam2", source="", batch_sizes=(1, 3, 7)):
    """Traces `model` (a built SAM2Base) into `out`, verifies it and returns a summary dict.

    Raises RuntimeError when the exported file differs from the eager model beyond the tolerance.
    """
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {sorted(DTYPES)}, not {precision!r}")
    ensure_sdpa()
    dtype = DTYPES[precision]
    model = model.to(device).eval()
    wrapper = AmgModel(model).to(device=device, dtype=dtype).eval()
    img, coords, labels, mask = _inputs(model, device, dtype, 2, seed=0)
    with torch.no_grad():
        emb = wrapper.encode_image(img)
        # Traced at batch 2 with repeat_image=True: the batch size stays dynamic (spec §4.3).
        traced = torch.jit.trace_module(
            wrapper,
            {
                "encode_image": (img,),
                "predict_masks": (*emb, coords, labels),
                "predict_masks_with_mask_input": (*emb, coords, labels, mask),
            },
            check_trace=False,
        )
    meta = metadata_for(model, architecture, precision, device, source)
    torch.jit.save(traced, out, _extra_files={"sam2_amg.json": json.dumps(meta, indent=2)})

    # Verify: the saved file against the eager model, fresh inputs, several batch sizes.
    loaded = torch.jit.load(out, map_location=device)
    worst = 0.0
    with torch.no_grad():
        img, _, _, _ = _inputs(model, device, dtype, 1, seed=1)
        eager_emb = wrapper.encode_image(img)
        file_emb = loaded.encode_image(img)
        for a, b in zip(eager_emb, file_emb):
            worst = max(worst, (a.float() - b.float()).abs().max().item())
        for batch in batch_sizes:
            _, coords, labels, mask = _inputs(model, device, dtype, batch, seed=10 + batch)
            for name, extra in (("predict_masks", ()), ("predict_masks_with_mask_input", (mask,))):
                e = getattr(wrapper, name)(*eager_emb, coords, labels, *extra)
                f = getattr(loaded, name)(*eager_emb, coords, labels, *extra)
                if f[0].shape != (batch, 4, model.image_size // 4, model.image_size // 4) or f[1].shape != (batch, 4):
                    raise RuntimeError(f"{name} at batch {batch} returned shapes {f[0].shape}, {f[1].shape}")
                for a, b in zip(e, f):
                    worst = max(worst, (a.float() - b.float()).abs().max().item())
    if worst > TOLERANCE[precision]:
        raise RuntimeError(f"exported model differs from the eager model by {worst:g} (> {TOLERANCE[precision]:g})")
    return {"out": out, "metadata": meta, "max_abs_diff": worst, "batch_sizes": list(batch_sizes)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="official checkpoint, e.g. sam2.1_hiera_large.pt")
    p.add_argument("--config", required=True, help=f"one of {', '.join(CONFIGS)} or a sam2 config path")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                   help="device to trace on; the file runs only there (default: cuda when available)")
    p.add_argument("--precision", default="fp32", choices=sorted(DTYPES))
    p.add_argument("--no-postprocessing", action="store_true",
                   help="build_sam2(apply_postprocessing=False): no dynamic multimask fallback (the AMG notebook)")
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
                           source=f"{args.checkpoint} ({config}), exported by sam2-amg scripts/export_sam2.py")
    meta = summary["metadata"]
    print(f"wrote {args.out}: {arch}, {meta['precision']}, device {meta['device']}, dynamic multimask "
          f"{'on' if meta['dynamic_multimask_via_stability']['enabled'] else 'off'}; "
          f"verified at batch sizes {summary['batch_sizes']}: max |eager - exported| = {summary['max_abs_diff']:.3g} "
          f"({time.time() - t0:.0f} s)")


if __name__ == "__main__":
    main()
