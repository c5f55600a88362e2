#include "model/native_decoder.h"

#include <cmath>
#include <map>
#include <stdexcept>

namespace sam2amg {

namespace {

constexpr double kTwoPi = 6.283185307179586;  // 2 * np.pi in _pe_encoding

// A weight the file lacks or has in another shape: the native decoder is not available.
struct MissingWeight : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Linear {
  at::Tensor w, b;  // (out, in), (out)
  at::Tensor operator()(const at::Tensor& x) const { return at::linear(x, w, b); }
};

struct Norm {
  at::Tensor w, b;
  double eps = 1e-5;  // nn.LayerNorm's default; LayerNorm2d's is 1e-6
  at::Tensor operator()(const at::Tensor& x) const { return at::layer_norm(x, {w.size(0)}, w, b, eps); }
};

// ref: transformer.py Attention (q/k/v/out projections, heads of width d), with the per-head
// weight views the folded forms multiply by.
struct Attention {
  Linear q, k, v, o;
  std::int64_t heads = 0, d = 0;
  double scale = 1.0;  // 1 / sqrt(d)
  at::Tensor wq_h;     // (H, d, C): q_proj's rows of each head
  at::Tensor wk_h;     // (H, d, C)
  at::Tensor wv_ht;    // (H, C, d): v_proj's rows of each head, transposed
  at::Tensor wo_ht;    // (H, d, C): out_proj's columns of each head, transposed

  void derive(std::int64_t n_heads) {
    heads = n_heads;
    const std::int64_t inner = q.w.size(0), c = q.w.size(1);
    d = inner / heads;
    scale = 1.0 / std::sqrt(static_cast<double>(d));
    wq_h = q.w.view({heads, d, c}).contiguous();
    wk_h = k.w.view({heads, d, k.w.size(1)}).contiguous();
    wv_ht = v.w.view({heads, d, v.w.size(1)}).transpose(1, 2).contiguous();
    wo_ht = o.w.view({o.w.size(0), heads, d}).permute({1, 2, 0}).contiguous();
  }
  // (B, T, H*d) -> (B, H, T, d)
  at::Tensor split(const at::Tensor& x) const {
    return x.view({x.size(0), x.size(1), heads, d}).permute({0, 2, 1, 3});
  }
  // (B, H, T, d) -> (B, T, H*d)
  static at::Tensor merge(const at::Tensor& x) {
    return x.permute({0, 2, 1, 3}).reshape({x.size(0), x.size(2), x.size(1) * x.size(3)});
  }
  // Each head's token values through out_proj's columns of that head: (B, H*T, C), so that the
  // attention weights multiply C-wide rows (out_proj(P V) = P (V W_o^T); bias apart).
  at::Tensor values_out(const at::Tensor& v_tokens) const {
    const at::Tensor u = at::matmul(split(v_tokens), wo_ht);  // (B, H, T, C)
    return u.reshape({u.size(0), u.size(1) * u.size(2), u.size(3)});
  }
  // Plain attention among a few tokens (the self-attention): ref Attention.forward.
  at::Tensor among_tokens(const at::Tensor& qin, const at::Tensor& kin, const at::Tensor& vin) const {
    const at::Tensor qh = split(q(qin) * scale), kh = split(k(kin)), vh = split(v(vin));
    return o(merge(at::matmul(at::softmax(at::matmul(qh, kh.transpose(2, 3)), -1), vh)));
  }
};

struct Layer {
  Attention self_attn, t2i, i2t;  // cross_attn_token_to_image, cross_attn_image_to_token
  Norm n1, n2, n3, n4;
  Linear mlp0, mlp1;
  at::Tensor mlp(const at::Tensor& x) const { return mlp1(at::relu(mlp0(x))); }
};

struct Mlp {
  std::vector<Linear> layers;
  at::Tensor operator()(at::Tensor x) const {  // ref: sam2_utils.py MLP, ReLU between layers
    for (size_t i = 0; i < layers.size(); ++i) x = i + 1 < layers.size() ? at::relu(layers[i](x)) : layers[i](x);
    return x;
  }
};

// Context entries (prepare's output), in this order.
enum Context : size_t { kKeys0Out, kPe, kK0, kV0, kQ0, kFeat1, kFeat0, kContextSize };

}  // namespace

struct NativeDecoder::Weights {
  std::int64_t image_size = 1024, c = 256, grid = 64;  // S, transformer_dim, S/16
  // Prompt encoder (points only).
  at::Tensor gaussian;       // (2, C/2) positional_encoding_gaussian_matrix
  at::Tensor point_embed1;   // (C) point_embeddings[1]: a foreground point
  at::Tensor not_a_point;    // (C)
  at::Tensor no_mask;        // (C) no_mask_embed: the dense embedding without a mask input
  at::Tensor image_pe;       // (N, C) the dense positional encoding, flattened
  // Mask decoder.
  at::Tensor output_tokens;  // (T0, C): [obj_score_token], iou_token, mask_tokens
  std::int64_t first_mask_token = 1;  // index of the iou token + 1 (the obj token shifts it)
  std::int64_t mask_tokens = 4;
  std::vector<Layer> layers;
  Attention final_attn;
  Norm final_norm;
  at::Tensor up1, up1_bias, up2, up2_bias;  // (C, 4*O1), (O1), (O1, 4*O2), (O2): blocked columns
  Norm up_norm;
  std::vector<Mlp> hyper;
  Mlp iou_head;
  bool iou_sigmoid = true;
};

NativeDecoder::NativeDecoder(std::unique_ptr<Weights> w) : w_(std::move(w)) {}
NativeDecoder::~NativeDecoder() = default;

std::array<std::int64_t, 3> NativeDecoder::embedding_channels() const {
  return {w_->c, w_->up2_bias.size(0), w_->up1_bias.size(0)};
}

std::unique_ptr<NativeDecoder> NativeDecoder::from_module(const torch::jit::Module& module,
                                                          const NativeDecoderShape& shape, std::int64_t image_size,
                                                          std::string* why) {
  std::map<std::string, at::Tensor> named;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) named[p.name] = p.value;
  for (const auto& b : module.named_buffers(/*recurse=*/true)) named[b.name] = b.value;
  const auto get = [&](const std::string& name, const std::vector<std::int64_t>& sizes) {
    const auto it = named.find(name);
    if (it == named.end()) throw MissingWeight("no weight '" + name + "'");
    const at::Tensor& t = it->second;
    if (!sizes.empty() && t.sizes() != at::IntArrayRef(sizes))
      throw MissingWeight("weight '" + name + "' has shape " + c10::str(t.sizes()) + ", not " +
                          c10::str(at::IntArrayRef(sizes)));
    return t.detach().to(at::kFloat).contiguous().clone();
  };
  const auto has = [&](const std::string& name) { return named.count(name) > 0; };
  try {
    auto w = std::make_unique<Weights>();
    const std::string pe = "prompt_encoder.", md = "mask_decoder.", tr = md + "transformer.";
    const at::Tensor iou_token = get(md + "iou_token.weight", {});
    if (iou_token.dim() != 2 || iou_token.size(0) != 1) throw MissingWeight("mask_decoder.iou_token is not (1, C)");
    const std::int64_t c = iou_token.size(1);
    w->c = c;
    w->image_size = image_size;
    w->grid = image_size / 16;
    const std::int64_t n = w->grid * w->grid;
    if (shape.num_heads <= 0 || c % shape.num_heads != 0)
      throw MissingWeight(std::to_string(shape.num_heads) + " heads do not divide the width " + std::to_string(c));

    w->gaussian = get(pe + "pe_layer.positional_encoding_gaussian_matrix", {2, c / 2});
    w->point_embed1 = get(pe + "point_embeddings.1.weight", {1, c}).view({c});
    w->not_a_point = get(pe + "not_a_point_embed.weight", {1, c}).view({c});
    w->no_mask = get(pe + "no_mask_embed.weight", {1, c}).view({c});
    w->image_pe = get("image_pe", {1, c, w->grid, w->grid}).flatten(2).transpose(1, 2).reshape({n, c}).contiguous();

    const at::Tensor masks = get(md + "mask_tokens.weight", {});
    if (masks.dim() != 2 || masks.size(1) != c) throw MissingWeight("mask_decoder.mask_tokens is not (K, C)");
    w->mask_tokens = masks.size(0);
    std::vector<at::Tensor> tokens{iou_token, masks};
    w->first_mask_token = 1;
    if (has(md + "obj_score_token.weight")) {  // SAM 2's pred_obj_scores: the object token comes first
      tokens.insert(tokens.begin(), get(md + "obj_score_token.weight", {1, c}));
      w->first_mask_token = 2;
    }
    w->output_tokens = at::cat(tokens, 0);

    const auto linear = [&](const std::string& p) { return Linear{get(p + ".weight", {}), get(p + ".bias", {})}; };
    const auto norm = [&](const std::string& p, double eps) { return Norm{get(p + ".weight", {c}), get(p + ".bias", {c}), eps}; };
    const auto attention = [&](const std::string& p) {
      Attention a;
      a.q = linear(p + ".q_proj");
      a.k = linear(p + ".k_proj");
      a.v = linear(p + ".v_proj");
      a.o = linear(p + ".out_proj");
      const std::int64_t inner = a.q.w.size(0);
      for (const Linear* l : {&a.q, &a.k, &a.v})
        if (l->w.sizes() != at::IntArrayRef({inner, c})) throw MissingWeight(p + ": projections are not (inner, C)");
      if (a.o.w.sizes() != at::IntArrayRef({c, inner}) || inner % shape.num_heads != 0)
        throw MissingWeight(p + ": out_proj is not (C, inner) or the heads do not divide inner");
      a.derive(shape.num_heads);
      return a;
    };
    for (int i = 0; has(tr + "layers." + std::to_string(i) + ".norm1.weight"); ++i) {
      const std::string p = tr + "layers." + std::to_string(i);
      w->layers.push_back({attention(p + ".self_attn"), attention(p + ".cross_attn_token_to_image"),
                           attention(p + ".cross_attn_image_to_token"), norm(p + ".norm1", 1e-5),
                           norm(p + ".norm2", 1e-5), norm(p + ".norm3", 1e-5), norm(p + ".norm4", 1e-5),
                           linear(p + ".mlp.layers.0"), linear(p + ".mlp.layers.1")});
    }
    if (w->layers.empty()) throw MissingWeight("no mask_decoder.transformer.layers");
    w->final_attn = attention(tr + "final_attn_token_to_image");
    w->final_norm = norm(tr + "norm_final_attn", 1e-5);

    // The upscaling: ConvTranspose2d(C, O1, 2, 2), LayerNorm2d(O1), GELU, ConvTranspose2d(O1, O2,
    // 2, 2), GELU. Weights (in, out, i, j) become (in, (i, j, out)) matrices.
    const at::Tensor c1 = get(md + "output_upscaling.0.weight", {});
    const at::Tensor c2 = get(md + "output_upscaling.3.weight", {});
    if (c1.dim() != 4 || c1.size(0) != c || c1.size(2) != 2 || c1.size(3) != 2 || c2.dim() != 4 ||
        c2.size(0) != c1.size(1) || c2.size(2) != 2 || c2.size(3) != 2)
      throw MissingWeight("mask_decoder.output_upscaling is not two 2x2 transposed convolutions");
    const std::int64_t o1 = c1.size(1), o2 = c2.size(1);
    w->up1 = c1.permute({0, 2, 3, 1}).reshape({c, 4 * o1}).contiguous();
    w->up1_bias = get(md + "output_upscaling.0.bias", {o1});
    w->up2 = c2.permute({0, 2, 3, 1}).reshape({o1, 4 * o2}).contiguous();
    w->up2_bias = get(md + "output_upscaling.3.bias", {o2});
    w->up_norm = Norm{get(md + "output_upscaling.1.weight", {o1}), get(md + "output_upscaling.1.bias", {o1}), 1e-6};

    const auto mlp = [&](const std::string& p) {
      Mlp m;
      for (int i = 0; has(p + ".layers." + std::to_string(i) + ".weight"); ++i)
        m.layers.push_back(linear(p + ".layers." + std::to_string(i)));
      if (m.layers.empty()) throw MissingWeight("no " + p);
      return m;
    };
    for (std::int64_t k = 0; k < w->mask_tokens; ++k) {
      w->hyper.push_back(mlp(md + "output_hypernetworks_mlps." + std::to_string(k)));
      if (w->hyper.back().layers.back().w.size(0) != o2)
        throw MissingWeight("a hypernetwork MLP does not end in the upscaled width");
    }
    w->iou_head = mlp(md + "iou_prediction_head");
    w->iou_sigmoid = shape.iou_sigmoid;
    return std::unique_ptr<NativeDecoder>(new NativeDecoder(std::move(w)));
  } catch (const MissingWeight& e) {
    if (why) *why = e.what();
    return nullptr;
  }
}

std::vector<at::Tensor> NativeDecoder::prepare(const ImageEmbedding& e) const {
  const Weights& w = *w_;
  const Layer& first = w.layers.front();
  const std::int64_t c = w.c, g = w.grid, n = g * g;
  TORCH_CHECK(e.image_embed.sizes() == at::IntArrayRef({1, c, g, g}), "native decoder: image_embed is ",
              e.image_embed.sizes());
  std::vector<at::Tensor> ctx(kContextSize);
  // ref: mask_decoder.py predict_masks: src = image embedding + dense (no mask: no_mask_embed).
  const at::Tensor keys0 = e.image_embed.to(at::kFloat).view({c, n}).t() + w.no_mask;
  const at::Tensor kpe0 = keys0 + w.image_pe;
  // The first layer's image side (skip_first_layer_pe changes only its self-attention).
  const Attention& t2i = first.t2i;
  ctx[kK0] = t2i.k(kpe0).view({n, t2i.heads, t2i.d}).permute({1, 2, 0}).contiguous();  // (H, d, N)
  ctx[kV0] = t2i.v(keys0).view({n, t2i.heads, t2i.d}).permute({1, 0, 2}).contiguous();  // (H, N, d)
  ctx[kQ0] = (first.i2t.q(kpe0) * first.i2t.scale).contiguous();                      // (N, Ci)
  ctx[kKeys0Out] = (keys0 + first.i2t.o.b).contiguous();  // the residual, with out_proj's bias
  ctx[kPe] = w.image_pe;
  // High-resolution features in blocked order (pixel, child taps..., channel), with the bias of
  // the transposed convolution they are added to. feat_s1: (O1, 2g, 2g); feat_s0: (O2, 4g, 4g).
  const std::int64_t o1 = w.up1_bias.size(0), o2 = w.up2_bias.size(0);
  TORCH_CHECK(e.feat_s1.sizes() == at::IntArrayRef({1, o1, 2 * g, 2 * g}) &&
                  e.feat_s0.sizes() == at::IntArrayRef({1, o2, 4 * g, 4 * g}),
              "native decoder: high-resolution features of unexpected shape");
  ctx[kFeat1] = (e.feat_s1.to(at::kFloat).view({o1, g, 2, g, 2}).permute({1, 3, 2, 4, 0}).reshape({n * 4, o1}) +
                 w.up1_bias)
                    .contiguous();
  ctx[kFeat0] = (e.feat_s0.to(at::kFloat)
                     .view({o2, g, 2, 2, g, 2, 2})
                     .permute({1, 4, 2, 5, 3, 6, 0})
                     .reshape({n * 16, o2}) +
                 w.up2_bias)
                    .contiguous();
  return ctx;
}

namespace {

// Token-to-image attention of the first layer, whose image keys and values are the crop's
// (shared by every prompt): the prompts' queries are rows of one product per head.
at::Tensor attend_shared_image(const Attention& a, const at::Tensor& qin, const at::Tensor& k0,
                               const at::Tensor& v0) {
  const std::int64_t b = qin.size(0), t = qin.size(1);
  const at::Tensor q = (a.q(qin) * a.scale).view({b, t, a.heads, a.d}).permute({2, 0, 1, 3}).reshape({a.heads, b * t, a.d});
  const at::Tensor out = at::bmm(at::softmax(at::bmm(q, k0), -1), v0);  // (H, B*T, d)
  return a.o(out.view({a.heads, b, t, a.d}).permute({1, 2, 0, 3}).reshape({b, t, a.heads * a.d}));
}

// Token-to-image attention against per-prompt keys (B, N, C) and keys + PE: scores
// (q W_k) (keys + pe)^T (k_proj's bias adds one constant per row: softmax drops it), values
// (P keys) W_v^T + b_v (each row of P sums to 1).
at::Tensor attend_image(const Attention& a, const at::Tensor& qin, const at::Tensor& keys, const at::Tensor& keys_pe) {
  const std::int64_t b = qin.size(0), t = qin.size(1);
  const at::Tensor qw = at::matmul(a.split(a.q(qin) * a.scale), a.wk_h);  // (B, H, T, C)
  const at::Tensor p = at::softmax(at::bmm(qw.reshape({b, a.heads * t, -1}), keys_pe.transpose(1, 2)), -1);
  const at::Tensor r = at::bmm(p, keys).view({b, a.heads, t, -1});     // (B, H, T, C)
  return a.o(Attention::merge(at::matmul(r, a.wv_ht)) + a.v.b);
}

// Image-to-token attention of every image position over the prompt's T tokens, added to
// `residual` (the keys, with out_proj's bias) and normalised: ref TwoWayAttentionBlock, keys =
// norm4(keys + cross_attn_image_to_token(q=keys + pe, k=queries + query_pe, v=queries)).
// `scores` (B, N, H*T) are q . k per head; the softmax runs over each head's T tokens.
at::Tensor image_update(const Attention& a, at::Tensor scores, const at::Tensor& vin, const at::Tensor& residual,
                        const Norm& norm) {
  const std::int64_t b = scores.size(0), n = scores.size(1);
  const at::Tensor p = at::softmax(scores.view({b, n, a.heads, -1}), -1).view({b, n, -1});
  const at::Tensor u = a.values_out(a.v(vin));  // (B, H*T, C)
  return norm(at::baddbmm(residual, p, u));
}

}  // namespace

DecoderOutput NativeDecoder::run(const std::vector<at::Tensor>& ctx, const at::Tensor& point_coords) const {
  const Weights& w = *w_;
  TORCH_CHECK(ctx.size() == kContextSize, "native decoder: not this decoder's context");
  TORCH_CHECK(point_coords.dim() == 2 && point_coords.size(1) == 2, "native decoder: points must be (B, 2)");
  const std::int64_t total = point_coords.size(0), c = w.c, g = w.grid, n = g * g;
  const std::int64_t o2 = w.up2_bias.size(0), lr = 4 * g;
  at::Tensor logits = at::empty({total, w.mask_tokens, lr, lr}, at::kFloat);
  at::Tensor iou = at::empty({total, w.mask_tokens}, at::kFloat);
  const at::Tensor all_points = point_coords.to(at::kFloat);
  for (std::int64_t b0 = 0; b0 < total; b0 += kChunk) {
    const std::int64_t b = std::min(kChunk, total - b0);
    // ref: prompt_encoder.py _embed_points: +0.5, normalised by the input size, random Fourier
    // features, plus the label's embedding; the padding point is not_a_point_embed alone.
    const at::Tensor xy = (all_points.slice(0, b0, b0 + b) + 0.5) / static_cast<double>(w.image_size);
    const at::Tensor f = at::matmul(xy * 2 - 1, w.gaussian) * kTwoPi;
    const at::Tensor point = at::cat({at::sin(f), at::cos(f)}, -1) + w.point_embed1;
    const at::Tensor sparse = at::stack({point, w.not_a_point.expand({b, c})}, 1);
    // ref: mask_decoder.py predict_masks: output tokens, then the prompt tokens.
    const at::Tensor tokens = at::cat({w.output_tokens.unsqueeze(0).expand({b, -1, -1}), sparse}, 1);
    const at::Tensor& qpe = tokens;

    // ref: transformer.py TwoWayTransformer.forward and TwoWayAttentionBlock.forward.
    const Layer& first = w.layers.front();
    at::Tensor queries = first.n1(first.self_attn.among_tokens(tokens, tokens, tokens));  // skip_first_layer_pe
    queries = first.n2(queries + attend_shared_image(first.t2i, queries + qpe, ctx[kK0], ctx[kV0]));
    queries = first.n3(queries + first.mlp(queries));
    at::Tensor keys;
    {
      // Queries shared: per head, the scores of all prompts are one product with a block matrix.
      const Attention& a = first.i2t;
      const std::int64_t t = tokens.size(1);
      const at::Tensor kt = a.k(queries + qpe).view({b, t, a.heads, a.d}).permute({2, 3, 0, 1});  // (H, d, B, T)
      at::Tensor blocks = at::zeros({a.heads, a.d, b, a.heads, t}, at::kFloat);
      for (std::int64_t h = 0; h < a.heads; ++h) blocks.select(3, h).select(0, h).copy_(kt[h]);
      const at::Tensor s = at::mm(ctx[kQ0], blocks.view({a.heads * a.d, b * a.heads * t}));  // (N, B*H*T)
      const at::Tensor scores = s.view({n, b, a.heads * t}).transpose(0, 1).contiguous();
      keys = image_update(a, scores, queries, ctx[kKeys0Out].expand({b, n, c}), first.n4);
    }
    for (size_t i = 1; i < w.layers.size(); ++i) {
      const Layer& l = w.layers[i];
      const at::Tensor q = queries + qpe;
      queries = l.n1(queries + l.self_attn.among_tokens(q, q, queries));
      const at::Tensor keys_pe = keys + ctx[kPe];
      queries = l.n2(queries + attend_image(l.t2i, queries + qpe, keys, keys_pe));
      queries = l.n3(queries + l.mlp(queries));
      // Scores (keys + pe) W_q^T k^T = (keys + pe) (W_q^T k^T), plus q_proj's bias . k per token.
      const Attention& a = l.i2t;
      const std::int64_t t = tokens.size(1);
      const at::Tensor kt = a.split(a.k(queries + qpe) * a.scale);  // (B, H, T, d)
      const at::Tensor g_t = at::matmul(kt, a.wq_h).reshape({b, a.heads * t, c});
      const at::Tensor bias = at::matmul(kt, a.q.b.view({a.heads, a.d, 1})).view({b, 1, a.heads * t});
      const at::Tensor scores = at::baddbmm(bias, keys_pe, g_t.transpose(1, 2));
      keys = image_update(a, scores, queries, keys + a.o.b, l.n4);
    }
    queries = w.final_norm(queries + attend_image(w.final_attn, queries + qpe, keys, keys + ctx[kPe]));

    // ref: mask_decoder.py predict_masks, the heads and the upscaling with the high-res features.
    const at::Tensor iou_out = w.iou_head(queries.select(1, w.first_mask_token - 1));
    iou.slice(0, b0, b0 + b).copy_(w.iou_sigmoid ? at::sigmoid(iou_out) : iou_out);
    std::vector<at::Tensor> hyper;
    for (std::int64_t k = 0; k < w.mask_tokens; ++k) hyper.push_back(w.hyper[k](queries.select(1, w.first_mask_token + k)));
    const at::Tensor hyper_in = at::stack(hyper, 1);  // (B, K, O2)
    at::Tensor x = at::mm(keys.reshape({b * n, c}), w.up1).view({b, n * 4, -1}).add_(ctx[kFeat1]);
    x = at::gelu(w.up_norm(x));
    x = at::mm(x.view({b * n * 4, -1}), w.up2).view({b, n * 16, o2}).add_(ctx[kFeat0]);
    x = at::gelu(x);
    // (B, K, pixels in blocked order (y, x, i, j, k, l)) -> rows 4y + 2i + k, columns 4x + 2j + l.
    const at::Tensor m = at::bmm(hyper_in, x.transpose(1, 2));
    logits.slice(0, b0, b0 + b)
        .copy_(m.view({b, w.mask_tokens, g, g, 2, 2, 2, 2}).permute({0, 1, 2, 4, 6, 3, 5, 7}).reshape({b, w.mask_tokens, lr, lr}));
  }
  return {logits, iou};
}

DecoderAgreement compare_decoder_outputs(const DecoderOutput& a, const DecoderOutput& b) {
  DecoderAgreement r;
  const double range = std::max(1.0, a.low_res_logits.abs().max().item<double>());
  r.logits = (a.low_res_logits.to(at::kFloat) - b.low_res_logits.to(at::kFloat)).abs().max().item<double>() / range;
  r.iou = (a.iou_preds.to(at::kFloat) - b.iou_preds.to(at::kFloat)).abs().max().item<double>();
  return r;
}

}  // namespace sam2amg
