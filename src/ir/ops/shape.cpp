// Inference for the shape op family: Reshape, Transpose, Flatten, Squeeze, Unsqueeze, Concat,
// Split, Expand, Tile, Shape, Size, Identity, Dropout, DepthToSpace, SpaceToDepth (Slice and Pad:
// shape_slice_pad.cpp; Rearrange: shape_rearrange.cpp).
#include <algorithm>
#include <map>
#include <set>
#include <string>

#include "ir/op_registry.hpp"
#include "ir/ops/families.hpp"
#include "ir/shape_inference.hpp"

namespace kiln::ir {

namespace {

// The factors of a shape: the product of its known dims, and its unknown dims by symbol.
struct Factors {
  int64_t known = 1;
  std::multiset<std::string> symbols;
  bool anonymous = false;  // some unknown dim has no symbol, so nothing can be cancelled
};

Factors factors(const InferenceContext& ctx, const SymShape& s, int64_t skip = -1) {
  Factors f;
  for (size_t i = 0; i < s.size(); ++i) {
    if (static_cast<int64_t>(i) == skip) continue;
    if (s[i].known())
      f.known = checked_mul(ctx, f.known, s[i].value);
    else if (s[i].symbol.empty())
      f.anonymous = true;
    else
      f.symbols.insert(s[i].symbol);
  }
  return f;
}

// The dim that makes `out` hold as many elements as `in`, when it can be worked out: exactly from
// known dims, or as a symbol left over once the symbols both sides share cancel out.
Dim solve_inferred_dim(const InferenceContext& ctx, const SymShape& in, const SymShape& out,
                       int64_t at) {
  Factors fi = factors(ctx, in);
  Factors fo = factors(ctx, out, at);
  if (fi.anonymous || fo.anonymous) return Dim();
  for (const std::string& s : fo.symbols) {
    auto it = fi.symbols.find(s);
    if (it == fi.symbols.end()) return Dim();
    fi.symbols.erase(it);
  }
  if (fi.symbols.empty()) {
    if (fo.known == 0 || fi.known % fo.known != 0) {
      ctx.fail("cannot reshape ", sym_shape_to_string(in), " into ", sym_shape_to_string(out),
               " with the -1 dimension inferred");
    }
    return Dim(fi.known / fo.known);
  }
  if (fi.symbols.size() == 1 && fi.known == fo.known) return Dim::symbolic(*fi.symbols.begin());
  return Dim();
}

void infer_reshape(InferenceContext& ctx) {
  const TensorType& data = ctx.input(0);
  bool allowzero = ctx.attrs().get_int("allowzero", 0) != 0;
  auto target = input_int_list(ctx, 1, "the shape");
  if (!target) {
    int64_t n = known_length(ctx, 1);
    ctx.set_output(0, data.dtype,
                   n >= 0 ? std::optional(SymShape(static_cast<size_t>(n), Dim())) : std::nullopt);
    return;
  }
  SymShape out;
  int64_t infer_at = -1;
  bool has_zero = false;
  for (size_t i = 0; i < target->size(); ++i) {
    int64_t v = (*target)[i];
    if (v == -1) {
      if (infer_at >= 0) ctx.fail("the shape ", "has more than one -1");
      infer_at = static_cast<int64_t>(i);
      out.emplace_back();
    } else if (v == 0 && !allowzero) {
      if (!data.shape) {
        out.emplace_back();
      } else if (i < data.shape->size()) {
        out.push_back((*data.shape)[i]);
      } else {
        ctx.fail("the shape has 0 (copy the input dimension) at position ", i,
                 " but the input has rank ", data.shape->size());
      }
    } else if (v < 0) {
      ctx.fail("the shape has invalid dimension ", v);
    } else {
      has_zero |= v == 0;
      out.emplace_back(v);
    }
  }
  if (allowzero && has_zero && infer_at >= 0)
    ctx.fail("with allowzero=1 the shape cannot hold both 0 and -1");
  if (data.shape) {
    if (infer_at >= 0) {
      out[static_cast<size_t>(infer_at)] = solve_inferred_dim(ctx, *data.shape, out, infer_at);
    } else {
      int64_t in_n = known_product(*data.shape, 0, data.shape->size());
      int64_t out_n = known_product(out, 0, out.size());
      if (in_n >= 0 && out_n >= 0 && in_n != out_n) {
        ctx.fail("cannot reshape ", sym_shape_to_string(data.shape), " (", in_n, " elements) into ",
                 sym_shape_to_string(out), " (", out_n, " elements)");
      }
    }
  }
  ctx.set_output(0, data.dtype, out);
}

void infer_transpose(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (!in.shape) {
    ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  int64_t r = in.rank();
  std::vector<int64_t> perm;
  for (int64_t i = r - 1; i >= 0; --i) perm.push_back(i);
  perm = ctx.attrs().get_ints("perm", perm);
  if (static_cast<int64_t>(perm.size()) != r)
    ctx.fail("perm has ", perm.size(), " entries but the input has rank ", r);
  std::vector<bool> seen(static_cast<size_t>(r), false);
  SymShape out;
  for (int64_t p : perm) {
    int64_t a = normalize_axis(ctx, p, r);
    if (seen[static_cast<size_t>(a)]) ctx.fail("perm is not a permutation (", p, " repeats)");
    seen[static_cast<size_t>(a)] = true;
    out.push_back((*in.shape)[static_cast<size_t>(a)]);
  }
  ctx.set_output(0, in.dtype, out);
}

// The product of dims [begin, end): known, a lone symbolic dim kept as is, or unknown.
Dim dim_product(const InferenceContext& ctx, const SymShape& s, size_t begin, size_t end) {
  int64_t known = 1;
  std::optional<Dim> lone;
  int unknown = 0;
  for (size_t i = begin; i < end; ++i) {
    if (s[i].known()) {
      known = checked_mul(ctx, known, s[i].value);
    } else {
      lone = s[i];
      ++unknown;
    }
  }
  if (unknown == 0) return Dim(known);
  if (unknown == 1 && known == 1) return *lone;
  return Dim();
}

void infer_flatten(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (!in.shape) {
    ctx.set_output(0, in.dtype, SymShape{Dim(), Dim()});
    return;
  }
  // Flatten's axis lies in [-r, r] and a negative one counts from r (not r + 1, as Unsqueeze's).
  int64_t raw = ctx.attrs().get_int("axis", 1);
  if (raw < -in.rank() || raw > in.rank())
    ctx.fail("axis ", raw, " is out of range [", -in.rank(), ", ", in.rank(), "]");
  auto axis = static_cast<size_t>(raw < 0 ? raw + in.rank() : raw);
  const SymShape& s = *in.shape;
  ctx.set_output(0, in.dtype,
                 SymShape{dim_product(ctx, s, 0, axis), dim_product(ctx, s, axis, s.size())});
}

// Normalized axes from input `i`, failing on duplicates; nullopt if the values are unknown.
std::optional<std::vector<int64_t>> unique_axes(const InferenceContext& ctx, size_t i,
                                                int64_t rank) {
  auto axes = input_int_list(ctx, i, "axes", /*allow_scalar=*/true);
  if (!axes) return std::nullopt;
  for (int64_t& a : *axes) a = normalize_axis(ctx, a, rank);
  std::vector<int64_t> sorted = *axes;
  std::sort(sorted.begin(), sorted.end());
  if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
    ctx.fail("axes has a repeated axis");
  return axes;
}

void infer_squeeze(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (!in.shape || (ctx.has_input(1) && !ctx.input(1).value)) {
    ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  const SymShape& s = *in.shape;
  SymShape out;
  if (!ctx.has_input(1)) {
    // Every dim of size 1 goes; an unknown dim might be 1, so the rank is unknown.
    for (const Dim& d : s) {
      if (!d.known()) {
        ctx.set_output(0, in.dtype, std::nullopt);
        return;
      }
      if (d.value != 1) out.push_back(d);
    }
  } else {
    auto axes = unique_axes(ctx, 1, in.rank());
    std::vector<bool> drop(s.size(), false);
    for (int64_t a : *axes) {
      const Dim& d = s[static_cast<size_t>(a)];
      if (d.known() && d.value != 1)
        ctx.fail("cannot squeeze axis ", a, " of shape ", sym_shape_to_string(in.shape),
                 ": its size is not 1");
      drop[static_cast<size_t>(a)] = true;
    }
    for (size_t i = 0; i < s.size(); ++i) {
      if (!drop[i]) out.push_back(s[i]);
    }
  }
  ctx.set_output(0, in.dtype, out);
}

void infer_unsqueeze(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  auto raw = input_int_list(ctx, 1, "axes", /*allow_scalar=*/true);
  if (!in.shape || !raw) {
    int64_t n = known_length(ctx, 1);
    if (in.shape && n >= 0)
      ctx.set_output(0, in.dtype, SymShape(static_cast<size_t>(in.rank() + n), Dim()));
    else
      ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  int64_t out_rank = in.rank() + static_cast<int64_t>(raw->size());
  auto axes = unique_axes(ctx, 1, out_rank);
  std::vector<bool> inserted(static_cast<size_t>(out_rank), false);
  for (int64_t a : *axes) inserted[static_cast<size_t>(a)] = true;
  SymShape out;
  size_t next = 0;
  for (int64_t i = 0; i < out_rank; ++i) {
    out.push_back(inserted[static_cast<size_t>(i)] ? Dim(1) : (*in.shape)[next++]);
  }
  ctx.set_output(0, in.dtype, out);
}

// Two dims that must be equal: the known one wins; a mismatch fails.
Dim merge_dims(const InferenceContext& ctx, const Dim& a, const Dim& b, const char* what) {
  if (a.known() && b.known() && a.value != b.value)
    ctx.fail(what, " have mismatched dimensions ", a.value, " and ", b.value);
  if (a.known()) return a;
  if (b.known()) return b;
  return a.symbol == b.symbol ? a : Dim();
}

void infer_concat(InferenceContext& ctx) {
  DataType dtype = ctx.input(0).dtype;
  std::optional<int64_t> rank;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const TensorType& t = ctx.input(i);
    if (t.dtype != dtype)
      ctx.fail("inputs must share one dtype; input 0 is ", to_string(dtype), ", input ", i, " is ",
               to_string(t.dtype));
    if (!t.shape) continue;
    if (rank && *rank != t.rank())
      ctx.fail("inputs must share one rank; input ", i, " has rank ", t.rank(), ", not ", *rank);
    rank = t.rank();
  }
  if (!rank) {
    ctx.set_output(0, dtype, std::nullopt);
    return;
  }
  if (*rank == 0) ctx.fail("cannot concatenate scalars");
  auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attrs().get_int("axis"), *rank));
  SymShape out(static_cast<size_t>(*rank), Dim());
  bool first = true;
  int64_t total = 0;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    const auto& s = ctx.input(i).shape;
    if (!s) {
      total = -1;
      continue;
    }
    for (size_t k = 0; k < s->size(); ++k) {
      if (k == axis) continue;
      out[k] = first ? (*s)[k] : merge_dims(ctx, out[k], (*s)[k], "inputs");
    }
    first = false;
    total = (total < 0 || !(*s)[axis].known()) ? -1 : checked_add(ctx, total, (*s)[axis].value);
  }
  out[axis] = total >= 0 ? Dim(total) : Dim();
  ctx.set_output(0, dtype, out);
}

void infer_split(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  size_t n = ctx.num_outputs();
  if (!in.shape) {
    for (size_t o = 0; o < n; ++o) ctx.set_output(o, in.dtype, std::nullopt);
    return;
  }
  auto axis = static_cast<size_t>(normalize_axis(ctx, ctx.attrs().get_int("axis", 0), in.rank()));
  const Dim& d = (*in.shape)[axis];
  std::vector<Dim> sizes(n, Dim());
  if (ctx.has_input(1)) {
    auto split = input_int_list(ctx, 1, "split");
    if (split) {
      if (split->size() != n)
        ctx.fail("split has ", split->size(), " entries but the node has ", n, " outputs");
      int64_t sum = 0;
      for (size_t o = 0; o < n; ++o) {
        if ((*split)[o] < 0) ctx.fail("split has negative size ", (*split)[o]);
        sum = checked_add(ctx, sum, (*split)[o]);
        sizes[o] = Dim((*split)[o]);
      }
      if (d.known() && sum != d.value)
        ctx.fail("split sizes add up to ", sum, " but axis ", axis, " has size ", d.value);
    }
  } else {
    int64_t parts = ctx.attrs().get_int("num_outputs", static_cast<int64_t>(n));
    if (parts != static_cast<int64_t>(n))
      ctx.fail("num_outputs is ", parts, " but the node has ", n, " outputs");
    if (d.known()) {
      // ONNX: equal chunks of ceil(size / n); the last one takes what is left.
      int64_t chunk = d.value / parts + (d.value % parts != 0 ? 1 : 0);
      int64_t last = d.value - chunk * (parts - 1);  // chunk * (parts - 1) < d.value + parts
      if (last < 0)
        ctx.fail("cannot split axis ", axis, " of size ", d.value, " into ", parts, " parts");
      for (size_t o = 0; o < n; ++o) sizes[o] = Dim(o + 1 == n ? last : chunk);
    }
  }
  for (size_t o = 0; o < n; ++o) {
    SymShape s = *in.shape;
    s[axis] = sizes[o];
    ctx.set_output(o, in.dtype, s);
  }
}

void infer_expand(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  auto target = input_int_list(ctx, 1, "the shape");
  SymShape t;
  if (target) {
    for (int64_t v : *target) {
      if (v < 0) ctx.fail("the shape has negative dimension ", v);
      t.emplace_back(v);
    }
  } else {
    int64_t n = known_length(ctx, 1);
    if (n < 0) {
      ctx.set_output(0, in.dtype, std::nullopt);
      return;
    }
    t.assign(static_cast<size_t>(n), Dim());
  }
  ctx.set_output(0, in.dtype, broadcast_shapes(ctx, {in.shape, t}));
}

void infer_tile(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  auto repeats = input_int_list(ctx, 1, "repeats");
  if (!in.shape) {
    ctx.set_output(0, in.dtype, std::nullopt);
    return;
  }
  if (!repeats) {
    ctx.set_output(0, in.dtype, SymShape(in.shape->size(), Dim()));
    return;
  }
  if (static_cast<int64_t>(repeats->size()) != in.rank())
    ctx.fail("repeats has ", repeats->size(), " entries but the input has rank ", in.rank());
  SymShape out = *in.shape;
  for (size_t i = 0; i < out.size(); ++i) {
    int64_t r = (*repeats)[i];
    if (r < 0) ctx.fail("repeats has negative value ", r);
    if (out[i].known())
      out[i] = Dim(checked_mul(ctx, out[i].value, r));
    else if (r != 1)
      out[i] = r == 0 ? Dim(0) : Dim();
  }
  ctx.set_output(0, in.dtype, out);
}

// The [start, end) range of dims Shape reports, clamped as ONNX specifies.
std::pair<int64_t, int64_t> shape_range(const InferenceContext& ctx, int64_t rank) {
  auto clamp = [&](int64_t v) {
    if (v < 0) v += rank;
    return std::clamp<int64_t>(v, 0, rank);
  };
  int64_t start = clamp(ctx.attrs().get_int("start", 0));
  int64_t end = clamp(ctx.attrs().get_int("end", rank));
  return {start, std::max(start, end)};
}

void infer_shape(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  if (!in.shape) {
    ctx.set_output(0, DataType::kInt64, SymShape{Dim()});
    return;
  }
  auto [start, end] = shape_range(ctx, in.rank());
  ctx.set_output(0, DataType::kInt64, SymShape{Dim(end - start)});
}

void infer_size(InferenceContext& ctx) {
  ctx.input(0);
  ctx.set_output(0, DataType::kInt64, SymShape{});
}

void infer_dropout(InferenceContext& ctx) {
  const TensorType& in = ctx.input(0);
  auto ratio = ctx.input_doubles(1);
  if (ratio && (ratio->size() != 1 || (*ratio)[0] < 0 || (*ratio)[0] >= 1))
    ctx.fail("ratio must be one value in [0, 1)");
  if (ctx.has_input(2) && ctx.input(2).dtype != DataType::kBool)
    ctx.fail("training_mode must be bool, got ", to_string(ctx.input(2).dtype));
  ctx.set_output(0, in.dtype, in.shape);
  ctx.set_output(1, DataType::kBool, in.shape);
}

// DepthToSpace and SpaceToDepth: [N, C, H, W] with channels traded for blocks of space.
void infer_block_rearrange(InferenceContext& ctx, bool to_space) {
  const TensorType& in = ctx.input(0);
  int64_t b = ctx.attrs().get_int("blocksize");
  if (b <= 0) ctx.fail("blocksize must be positive, got ", b);
  std::string mode = ctx.attrs().get_string("mode", "DCR");
  if (mode != "DCR" && mode != "CRD") ctx.fail("mode must be DCR or CRD, got '", mode, "'");
  if (!in.shape) {
    ctx.set_output(0, in.dtype, SymShape(4, Dim()));
    return;
  }
  if (in.rank() != 4) ctx.fail("the input must be 4-D (N, C, H, W), got rank ", in.rank());
  SymShape out = *in.shape;
  int64_t bb = checked_mul(ctx, b, b);
  auto scale = [&](Dim& d, bool up, int64_t f) {
    if (!d.known()) {
      d = Dim();
    } else if (up) {
      d = Dim(checked_mul(ctx, d.value, f));
    } else {
      if (d.value % f != 0) ctx.fail("dimension ", d.value, " is not divisible by ", f);
      d = Dim(d.value / f);
    }
  };
  scale(out[1], !to_space, bb);
  scale(out[2], to_space, b);
  scale(out[3], to_space, b);
  ctx.set_output(0, in.dtype, out);
}

}  // namespace

void register_shape_ops(OpRegistry& r) {
  // Row-major data keeps its order under a new shape: these are views of their input.
  constexpr OpTraits kView{.view = true, .flops = data_movement_flops()};
  constexpr OpTraits kMoves{.flops = data_movement_flops()};
  // Shape and Size read only their input's shape.
  constexpr OpTraits kReadsShape{.precision = {.any_type_inputs = 1u << 0},
                                 .flops = data_movement_flops()};
  r.add({"Reshape", 2, 2, 1, 1, infer_reshape}, kView);
  r.add({"Transpose", 1, 1, 1, 1, infer_transpose}, kMoves);
  r.add({"Flatten", 1, 1, 1, 1, infer_flatten}, kView);
  r.add({"Squeeze", 1, 2, 1, 1, infer_squeeze}, kView);
  r.add({"Unsqueeze", 2, 2, 1, 1, infer_unsqueeze}, kView);
  r.add({"Concat", 1, OpSchema::kVariadic, 1, 1, infer_concat}, kMoves);
  r.add({"Split", 1, 2, 1, OpSchema::kVariadic, infer_split}, kMoves);
  r.add({"Expand", 2, 2, 1, 1, infer_expand}, kMoves);
  r.add({"Tile", 2, 2, 1, 1, infer_tile}, kMoves);
  r.add({"Shape", 1, 1, 1, 1, infer_shape}, kReadsShape);
  r.add({"Size", 1, 1, 1, 1, infer_size}, kReadsShape);
  // Identity is a view and, as out[i] = x[i], an elementwise op.
  constexpr OpTraits kIdentity{.elementwise = ElementwiseClass::kUnary,
                               .view = true,
                               .layout_agnostic = true,
                               .flops = data_movement_flops()};
  r.add({"Identity", 1, 1, 1, 1, infer_same_as_first}, kIdentity);
  r.add({"Dropout", 1, 3, 1, 2, infer_dropout}, kMoves);
  r.add({"DepthToSpace", 1, 1, 1, 1, [](InferenceContext& c) { infer_block_rearrange(c, true); }},
        kMoves);
  r.add({"SpaceToDepth", 1, 1, 1, 1, [](InferenceContext& c) { infer_block_rearrange(c, false); }},
        kMoves);
}

}  // namespace kiln::ir
