"""The fast form of SAM 2's prompt encoder + mask decoder, for bf16/fp16 exports.

It computes what `MaskDecoder.predict_masks` computes (ref: sam2/modeling/sam/mask_decoder.py
predict_masks, sam2/modeling/sam/transformer.py TwoWayTransformer, TwoWayAttentionBlock,
Attention), with the official modules' own weights, but arranged for a batch of many prompts
over one image:

- The image side of the first two-way-attention layer does not depend on the prompt (without a
  mask input the dense embedding is one vector): its keys + PE, their key/value projections for
  the token-to-image attention and their query projection for the image-to-token attention are
  computed once per image (`prepare`).
- The image embedding and the positional encoding are never copied per prompt: they are
  broadcast, and attention against image-side tensors shared by all prompts folds the prompts
  into the token dimension.
- `k_proj(keys + pe)` is computed as `keys @ W^T + (pe @ W^T + b)`, the PE projection once per
  image and layer, so keys + PE is never formed per prompt.
- The image features stay channels-last from the transformer to the mask product, so
  LayerNorm2d is one `layer_norm` pass over the channel dimension and the 2x2 transposed
  convolutions are one matrix product each.
- Softmax runs in float32, and so do the last GELU and the mask-logit product (the logits come
  out float32); LayerNorm's statistics are accumulated in float32 by `layer_norm` itself.

In float32 it equals the reference decoder up to rounding (tests/scripts/test_fast_decoder.py
and scripts/compare_fast_decoder.py measure it).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


def _heads(x, n):
    """(b, t, c) -> (b, n, t, c / n)."""
    b, t, c = x.shape
    return x.reshape(b, t, n, c // n).transpose(1, 2)


def _merge(x):
    """(b, n, t, d) -> (b, t, n * d)."""
    b, n, t, d = x.shape
    return x.transpose(1, 2).reshape(b, t, n * d)


def _softmax(x, dim, dtype):
    # Softmax in float32 whatever the model dtype; the probabilities go back to the model dtype.
    return x.float().softmax(dim).to(dtype)


def _attend(q, k, v, n, d, dtype, shared=False):
    """Attention of q (B, T, C) over k, v with n heads of width d: (1, N, C) shared by all prompts when
    `shared`, else (B, N, C). Returns (B, T, C) before out_proj."""
    b, t, c = q.shape
    q = q * (1.0 / math.sqrt(d))
    if shared:
        # Shared keys: the prompts become rows of one product per head, no copy of k or v.
        qh = q.reshape(b * t, n, d).transpose(0, 1)  # (n, B*T, d)
        kh = k[0].reshape(-1, n, d).transpose(0, 1)  # (n, N, d)
        vh = v[0].reshape(-1, n, d).transpose(0, 1)
        p = _softmax(qh @ kh.transpose(1, 2), -1, dtype)  # (n, B*T, N)
        return (p @ vh).transpose(0, 1).reshape(b, t, c)
    p = _softmax(_heads(q, n) @ _heads(k, n).transpose(-2, -1), -1, dtype)
    return _merge(p @ _heads(v, n))


def _attend_image(q, k, v, n, d, dtype, shared=False):
    """Attention of the image positions q over the tokens k, v (B, T, C): q is (1, N, C), shared
    by all prompts, when `shared`, else (B, N, C). Returns (B, N, C) before out_proj."""
    b, t, c = k.shape
    q = q * (1.0 / math.sqrt(d))
    if shared:
        # scores (n, B*T, N) from the shared queries, softmax over each prompt's T tokens.
        kh = k.reshape(b * t, n, d).transpose(0, 1)  # (n, B*T, d)
        qh = q[0].reshape(-1, n, d).transpose(0, 1)  # (n, N, d)
        s = (kh @ qh.transpose(1, 2)).reshape(n, b, t, -1)
        p = _softmax(s, 2, dtype)
        out = p.permute(1, 0, 3, 2) @ _heads(v, n)  # (B, n, N, d)
        return _merge(out)
    p = _softmax(_heads(q, n) @ _heads(k, n).transpose(-2, -1), -1, dtype)
    return _merge(p @ _heads(v, n))


def _head_dim(attention):
    # A Python int (not a traced shape): the scale is a constant of the graph.
    return attention.q_proj.out_features // attention.num_heads


def _up2x2(x, weight, bias):
    """ConvTranspose2d(kernel 2, stride 2) on channels-last x (B, H, W, Cin): (B, 2H, 2W, Cout)."""
    b, h, w, c = x.shape
    o = weight.shape[1]
    y = (x.reshape(b, h * w, c) @ weight.reshape(c, o * 4)).reshape(b, h, w, o, 2, 2)
    return y.permute(0, 1, 4, 2, 5, 3).reshape(b, 2 * h, 2 * w, o) + bias


class FastDecoder(nn.Module):
    """Prompt encoder + mask decoder in the fast form, over the official modules' weights.

    prompt_encoder, mask_decoder: the official modules (shared, not copied). image_pe: the dense
    positional encoding (1, C, h, w) as AmgModel keeps it.
    """

    def __init__(self, prompt_encoder, mask_decoder):
        super().__init__()
        tr = mask_decoder.transformer
        if not mask_decoder.use_high_res_features:
            raise ValueError("the fast decoder form needs use_high_res_features (every SAM 2 model has it)")
        if not tr.layers[0].skip_first_layer_pe or any(layer.skip_first_layer_pe for layer in tr.layers[1:]):
            raise ValueError("the fast decoder form expects skip_first_layer_pe on the first layer only")
        self.prompt_encoder = prompt_encoder
        self.mask_decoder = mask_decoder
        self.dtype = torch.float32

    # --- per image -----------------------------------------------------------------------------
    def prepare(self, image_embed, image_pe, dense=None):
        """The prompt-independent tensors of one image, a tuple: keys0 = image embedding + dense
        embedding (1, N, C); for layer 0 the token-to-image key and value projections of keys0 (+
        PE) and the image-to-token query projection of keys0 + PE; then for every later layer and
        the final attention the projections of the PE alone (with their bias).

        dense: None for no mask input (no_mask_embed, one vector for every prompt), or the
        per-prompt dense embedding (B, C, h, w) of the mask-input path, which makes keys0 and
        the layer-0 tensors (B, N, .) (forward with shared=False)."""
        dt = self.dtype
        pe = image_pe.to(dt).flatten(2).transpose(1, 2)  # (1, N, C)
        if dense is None:
            keys0 = image_embed.to(dt).flatten(2).transpose(1, 2) + \
                self.prompt_encoder.no_mask_embed.weight.to(dt).reshape(1, 1, -1)
        else:
            keys0 = (image_embed.to(dt) + dense.to(dt)).flatten(2).transpose(1, 2)
        tr = self.mask_decoder.transformer
        first = tr.layers[0]
        kpe = keys0 + pe
        out = [keys0,
               first.cross_attn_token_to_image.k_proj(kpe),
               first.cross_attn_token_to_image.v_proj(keys0),
               first.cross_attn_image_to_token.q_proj(kpe)]
        for layer in tr.layers[1:]:
            out.append(layer.cross_attn_token_to_image.k_proj(pe))
            out.append(layer.cross_attn_image_to_token.q_proj(pe))
        out.append(tr.final_attn_token_to_image.k_proj(pe))
        return tuple(out)

    # --- per batch of prompts ------------------------------------------------------------------
    def forward(self, context, feat_s0, feat_s1, sparse, shared=True):
        """context: prepare's tuple, without (shared=True) or with a dense input (False); sparse: the
        point embeddings (B, P, C).
        Returns (low_res_logits (B, M, 4h, 4w) float32, iou (B, M) in the model dtype)."""
        dt = self.dtype
        dec = self.mask_decoder
        tr = dec.transformer
        b = sparse.shape[0]
        # ref: mask_decoder.py predict_masks, the output tokens before the prompt tokens.
        if dec.pred_obj_scores:
            out_tokens = torch.cat([dec.obj_score_token.weight, dec.iou_token.weight, dec.mask_tokens.weight], 0)
            s = 1
        else:
            out_tokens = torch.cat([dec.iou_token.weight, dec.mask_tokens.weight], 0)
            s = 0
        tokens = torch.cat((out_tokens.to(dt).unsqueeze(0).expand(b, -1, -1), sparse.to(dt)), dim=1)
        query_pe = tokens
        keys0, k0, v0, q0 = context[0], context[1], context[2], context[3]

        # Layer 0 (skip_first_layer_pe): ref transformer.py TwoWayAttentionBlock.forward.
        layer = tr.layers[0]
        a = layer.self_attn
        n, d = a.num_heads, _head_dim(a)
        queries = layer.norm1(a.out_proj(_attend(a.q_proj(tokens), a.k_proj(tokens), a.v_proj(tokens), n, d, dt)))
        a = layer.cross_attn_token_to_image
        n, d = a.num_heads, _head_dim(a)
        queries = layer.norm2(queries + a.out_proj(_attend(a.q_proj(queries + query_pe), k0, v0, n, d, dt, shared)))
        queries = layer.norm3(queries + layer.mlp(queries))
        a = layer.cross_attn_image_to_token
        qt = queries + query_pe
        n, d = a.num_heads, _head_dim(a)
        keys = layer.norm4(keys0 + a.out_proj(_attend_image(q0, a.k_proj(qt), a.v_proj(queries), n, d, dt, shared)))

        # Later layers: keys are per prompt; k_proj(keys + pe) = keys W^T + (pe W^T + b).
        i = 4
        for layer in tr.layers[1:]:
            pe_k, pe_q = context[i], context[i + 1]
            i += 2
            a = layer.self_attn
            q = queries + query_pe
            n, d = a.num_heads, _head_dim(a)
            queries = layer.norm1(queries + a.out_proj(_attend(a.q_proj(q), a.k_proj(q), a.v_proj(queries), n, d, dt)))
            a = layer.cross_attn_token_to_image
            kk = F.linear(keys, a.k_proj.weight) + pe_k
            n, d = a.num_heads, _head_dim(a)
            out = _attend(a.q_proj(queries + query_pe), kk, a.v_proj(keys), n, d, dt)
            queries = layer.norm2(queries + a.out_proj(out))
            queries = layer.norm3(queries + layer.mlp(queries))
            a = layer.cross_attn_image_to_token
            qt = queries + query_pe
            qi = F.linear(keys, a.q_proj.weight) + pe_q
            n, d = a.num_heads, _head_dim(a)
            keys = layer.norm4(keys + a.out_proj(_attend_image(qi, a.k_proj(qt), a.v_proj(queries), n, d, dt)))

        # Final attention from the tokens to the image.
        a = tr.final_attn_token_to_image
        kk = F.linear(keys, a.k_proj.weight) + context[i]
        n, d = a.num_heads, _head_dim(a)
        queries = tr.norm_final_attn(queries + a.out_proj(_attend(a.q_proj(queries + query_pe), kk, a.v_proj(keys),
                                                                  n, d, dt)))
        iou_token_out = queries[:, s, :]
        mask_tokens_out = queries[:, s + 1:s + 1 + dec.num_mask_tokens, :]

        # Upscaling, channels-last: keys (B, h*w, C) is already (B, h, w, C).
        dc1, ln1, act1, dc2, act2 = dec.output_upscaling
        hw = feat_s1.shape[-1] // 2
        x = keys.reshape(b, -1, hw, keys.shape[-1])
        x = _up2x2(x, dc1.weight, dc1.bias) + feat_s1.to(dt).permute(0, 2, 3, 1)
        # LayerNorm2d normalises over channels: one layer_norm pass over the last dimension.
        x = act1(F.layer_norm(x, (x.shape[-1],), ln1.weight, ln1.bias, ln1.eps))
        x = _up2x2(x, dc2.weight, dc2.bias) + feat_s0.to(dt).permute(0, 2, 3, 1)
        up = act2(x.float())  # (B, 4h, 4w, C/8), float32 for the mask product
        hyper = torch.stack([mlp(mask_tokens_out[:, k, :]) for k, mlp in enumerate(dec.output_hypernetworks_mlps)], 1)
        h4, w4 = up.shape[1], up.shape[2]
        masks = (hyper.float() @ up.reshape(b, h4 * w4, -1).transpose(1, 2)).reshape(b, -1, h4, w4)
        iou = dec.iou_prediction_head(iou_token_out)
        return masks, iou
