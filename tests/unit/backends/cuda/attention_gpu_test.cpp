// ScaledDotProductAttention's CUDA tactics against the CPU reference: the tensor-core flash kernel,
// the GEMM-softmax-GEMM tactic and the fused kernel, each pinned through BuilderConfig::tactics,
// and the default choice, over ViT/BERT shapes, masks (additive, and 0/-inf masks as a boolean mask
// becomes, fully masked rows included), odd sizes, K transposed, broadcast batch dims and a batch
// chunked under the scores budget; float32, float16 and bfloat16. Also the tactic's applicability
// rules, which need no GPU.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <optional>

#include "backends/cuda/attention.hpp"
#include "backends/cuda/attention_gemm.hpp"
#include "backends/cuda/flash_attention_heads.hpp"
#include "core/error.hpp"
#include "unit/backends/cuda/gpu_test_util.hpp"

namespace kiln::test {
namespace {

// FP16/BF16: scores and probabilities are rounded to the element type as the CPU rounds them,
// but the sums run in a different order.
const Precision kPrecisions[] = {{DataType::kFloat32, "fp32", 2e-4, 2e-4},
                                 {DataType::kFloat16, "fp16", 8e-3, 1e-2},
                                 {DataType::kBFloat16, "bf16", 4e-2, 6e-2}};
// The flash tactics take FP32 layers only where TF32 products are allowed.
const Precision kTf32 = {DataType::kFloat32, "tf32", 4e-3, 4e-3};

// The precision a tactic runs `p` in: FP32 becomes TF32 for the flash kernels.
Precision for_tactic(const Precision& p, const std::string& tactic) {
  return tactic.rfind("flash", 0) == 0 && p.dtype == DataType::kFloat32 ? kTf32 : p;
}

enum class MaskKind { kNone, kAdditive, kBlocked };

struct AttentionCase {
  const char* label;
  Shape q, k, v;
  MaskKind mask = MaskKind::kNone;
  Shape mask_shape = {};
  bool k_transposed = false;
  bool gemm_applies = true;   // the GEMM tactic takes it (no partial batch broadcast)
  bool fused_applies = true;  // the fused kernel takes it (Dv <= 256)
  bool float32_only = false;  // large cases: one dtype keeps the CPU reference quick
  // Q, K and V stored permuted (q_perm = k_perm = v_perm; shapes above are the stored ones) and
  // Y written permuted, as absorb_attention_transposes leaves them.
  std::vector<int64_t> perm = {};
  std::vector<int64_t> y_perm = {};
};

// A 0/-inf mask of `shape` (what a boolean mask becomes): key j of row i is blocked when
// (i + 2 j) % 5 == 0; where the mask has query rows, the whole first row is blocked too, so that
// row's output is NaN on both backends.
std::vector<double> blocked_mask(const Shape& shape) {
  const int64_t rows = shape.size() >= 2 ? shape[shape.size() - 2] : 1;
  const int64_t cols = shape.back();
  std::vector<double> values(static_cast<size_t>(shape_numel(shape)));
  for (size_t e = 0; e < values.size(); ++e) {
    const int64_t j = static_cast<int64_t>(e) % cols, i = static_cast<int64_t>(e) / cols % rows;
    const bool first_row = rows > 1 && static_cast<int64_t>(e) < cols;
    const bool blocked = first_row || (i + 2 * j) % 5 == 0;
    values[e] = blocked ? -std::numeric_limits<double>::infinity() : 0.0;
  }
  return values;
}

std::vector<AttentionCase> cases() {
  using M = MaskKind;
  return {
      {"ViT-B/16 head, batch 1", {1, 12, 197, 64}, {1, 12, 197, 64}, {1, 12, 197, 64}},
      {"ViT-B/16 head, batch 2", {2, 12, 197, 64}, {2, 12, 197, 64}, {2, 12, 197, 64}},
      {"BERT additive per-batch mask",
       {2, 12, 128, 64},
       {2, 12, 128, 64},
       {2, 12, 128, 64},
       M::kAdditive,
       {2, 1, 1, 128}},
      {"BERT blocked per-batch mask",
       {2, 12, 128, 64},
       {2, 12, 128, 64},
       {2, 12, 128, 64},
       M::kBlocked,
       {2, 1, 1, 128}},
      {"BERT blocked full mask",
       {2, 4, 128, 64},
       {2, 4, 128, 64},
       {2, 4, 128, 64},
       M::kBlocked,
       {2, 4, 128, 128}},
      {"mask broadcast over the batch",
       {2, 3, 17, 16},
       {2, 3, 33, 16},
       {2, 3, 33, 16},
       M::kAdditive,
       {17, 33}},
      {"mask broadcast over queries",
       {2, 3, 17, 16},
       {2, 3, 33, 16},
       {2, 3, 33, 16},
       M::kAdditive,
       {2, 3, 1, 33}},
      {"sq != sk, d != dv", {2, 3, 37, 40}, {2, 3, 70, 40}, {2, 3, 70, 24}},
      {"one key", {2, 3, 9, 16}, {2, 3, 1, 16}, {2, 3, 1, 8}},
      {"one query", {2, 3, 1, 16}, {2, 3, 50, 16}, {2, 3, 50, 16}},
      {"odd head size", {2, 2, 11, 7}, {2, 2, 13, 7}, {2, 2, 13, 5}},
      {"K transposed",
       {2, 4, 19, 32},
       {2, 4, 32, 45},
       {2, 4, 45, 32},
       M::kAdditive,
       {2, 4, 19, 45},
       true},
      {"K transposed, one key", {2, 4, 19, 32}, {2, 4, 32, 1}, {2, 4, 1, 32}, M::kNone, {}, true},
      {"K and V shared by every batch entry", {2, 3, 9, 16}, {1, 1, 12, 16}, {1, 1, 12, 16}},
      {"K and V broadcast over the leading dim",
       {2, 3, 9, 16},
       {1, 3, 12, 16},
       {1, 3, 12, 16},
       M::kNone,
       {},
       false,
       false},
      {"K broadcast over heads only",
       {2, 3, 9, 16},
       {2, 1, 12, 16},
       {2, 3, 12, 16},
       M::kNone,
       {},
       false,
       false},
      {"head 32, odd lengths, mask per query",
       {2, 3, 37, 32},
       {2, 3, 70, 32},
       {2, 3, 70, 32},
       M::kAdditive,
       {2, 1, 37, 70}},
      {"head 128, more queries than keys", {1, 2, 150, 128}, {1, 2, 90, 128}, {1, 2, 90, 128}},
      // A full mask with rows of whole 16-byte chunks (the flash kernel stages it per tile) over
      // partial query and key tiles.
      {"full blocked mask, partial tiles",
       {1, 2, 50, 32},
       {1, 2, 72, 32},
       {1, 2, 72, 32},
       M::kBlocked,
       {1, 2, 50, 72}},
      {"head 64, K and V broadcast over the leading dim",
       {2, 3, 9, 64},
       {1, 3, 12, 64},
       {1, 3, 12, 64},
       M::kNone,
       {},
       false,
       false},
      {"heads interleaved in and out (BSHD)",
       {2, 128, 12, 64},
       {2, 128, 12, 64},
       {2, 128, 12, 64},
       M::kBlocked,
       {2, 1, 1, 128},
       false,
       false,
       true,
       false,
       {0, 2, 1, 3},
       {0, 2, 1, 3}},
      {"sequence first, as PyTorch's MHA export stores it",
       {50, 6, 32},
       {50, 6, 32},
       {50, 6, 32},
       M::kNone,
       {},
       false,
       false,
       true,
       false,
       {1, 0, 2},
       {1, 0, 2}},
      {"heads interleaved in, packed out",
       {2, 40, 3, 128},
       {2, 33, 3, 128},
       {2, 33, 3, 128},
       M::kAdditive,
       {2, 3, 40, 33},
       false,
       false,
       true,
       false,
       {0, 2, 1, 3}},
      {"3-D", {3, 10, 8}, {3, 10, 8}, {3, 10, 8}},
      {"2-D", {10, 8}, {12, 8}, {12, 8}},
      {"long keys (block-wide softmax rows)",
       {1, 2, 8, 16},
       {1, 2, 3000, 16},
       {1, 2, 3000, 16},
       M::kAdditive,
       {1, 1, 8, 3000}},
      {"value head above the fused kernel's limit",
       {1, 2, 9, 32},
       {1, 2, 12, 32},
       {1, 2, 12, 320},
       M::kNone,
       {},
       false,
       true,
       false},
      // 3 x 4096 x 8192 float32 scores are 384 MiB: chunks of 2 batch entries, then a tail of 1.
      {"chunked batch, 8192 keys",
       {3, 4096, 16},
       {3, 8192, 16},
       {3, 8192, 16},
       M::kNone,
       {},
       false,
       true,
       true,
       true},
  };
}

std::string run_case(const AttentionCase& c, const Precision& p, const std::string& tactic) {
  GpuCase g;
  g.name = cat("ScaledDotProductAttention ", p.name, " ", c.label);
  g.tactic = tactic;
  g.op = "ScaledDotProductAttention";
  g.attrs.set("scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.q.back()))));
  g.attrs.set("k_transposed", int64_t{c.k_transposed});
  if (!c.perm.empty()) {
    for (const char* name : {"q_perm", "k_perm", "v_perm"}) g.attrs.set(name, c.perm);
  }
  if (!c.y_perm.empty()) g.attrs.set("y_perm", c.y_perm);
  for (const Shape& s : {c.q, c.k, c.v}) g.inputs.push_back({p.dtype, s, false, {}, -1.0, 1.0});
  if (c.mask != MaskKind::kNone) {
    GpuInput m{p.dtype, c.mask_shape, false, {}, -2.0, 2.0};
    if (c.mask == MaskKind::kBlocked) m.values = blocked_mask(c.mask_shape);
    g.inputs.push_back(m);
  }
  g.rtol = p.rtol;
  g.atol = p.atol;
  g.tf32 = std::string(p.name) == kTf32.name;
  std::string diff = compare_cuda_with_cpu(g);
  return diff.empty() ? "" : cat("\n  ", g.name, ": ", diff);
}

// The flash kernel takes heads of 32, 64 or 128 (D = Dv) stored with the head dim innermost.
bool flash_applies(const AttentionCase& c) {
  return !c.k_transposed && cuda::flash_attention_heads(c.q.back(), c.v.back());
}

// Runs every case the tactic takes. Without a GPU the CPU reference still runs (the large
// float32-only cases aside), so a table row the reference rejects fails in CI too; then the test
// is skipped.
void run_all(const char* tactic) {
  const bool gpu = gpu_available();
  const std::string name = tactic ? tactic : "";
  std::string failures;
  int ran = 0;
  for (const AttentionCase& c : cases()) {
    if (name == "gemm" && !c.gemm_applies) continue;
    const bool flash = name == "flash" || name == "flash_dense";
    if (flash && !flash_applies(c)) continue;
    if (name == "fused" && (!c.fused_applies || c.float32_only)) continue;  // slow there
    if (!gpu && c.float32_only) continue;
    for (const Precision& p : kPrecisions) {
      if (c.float32_only && p.dtype != DataType::kFloat32) continue;
      std::string diff = run_case(c, for_tactic(p, name), name);
      if (!gpu && diff.find(": CUDA failed") != std::string::npos) diff.clear();
      failures += diff;
      ++ran;
    }
  }
  EXPECT_EQ(failures, "");
  if (!gpu) GTEST_SKIP() << "no CUDA device (the CPU reference ran " << ran << " cases)";
  std::cout << ran << " cases ran with tactic " << (tactic ? tactic : "(default)") << "\n";
}

TEST(AttentionGpu, FlashTacticMatchesCpu) {
  run_all("flash");
}

TEST(AttentionGpu, FlashDenseTacticMatchesCpu) {
  run_all("flash_dense");
}

TEST(AttentionGpu, GemmTacticMatchesCpu) {
  run_all("gemm");
}

TEST(AttentionGpu, FusedTacticMatchesCpu) {
  run_all("fused");
}

TEST(AttentionGpu, DefaultChoiceMatchesCpu) {
  run_all(nullptr);
}

// Q, K and V read as strided views of [S, B, 3E] projections (q_view...: what PyTorch's MHA export
// slices out with Gather after a Transpose), with y_perm writing [S, B, H, D]: every tactic that
// takes strides (the GEMM tactic needs packed operands), against the CPU reading the same views.
TEST(AttentionGpu, OperandViewsMatchCpu) {
  const bool gpu = gpu_available();
  const int64_t s = 37, b = 2, h = 3, d = 32, e = h * d;
  std::string failures;
  int ran = 0;
  for (const char* tactic : {"flash", "flash_dense", "fused", static_cast<const char*>(nullptr)}) {
    for (const Precision& p : kPrecisions) {
      const Precision q = for_tactic(p, tactic ? tactic : "");
      GpuCase g;
      g.name = cat("ScaledDotProductAttention ", q.name, " views, tactic ",
                   tactic ? tactic : "(default)");
      g.op = "ScaledDotProductAttention";
      g.attrs.set("scale", static_cast<float>(1.0 / std::sqrt(static_cast<double>(d))));
      const char* views[] = {"q_view", "k_view", "v_view"};
      for (int64_t i = 0; i < 3; ++i) {
        // [B, H, S, D] at offset i * E: strides 3E (batch), D (head), 3EB (sequence), 1.
        g.attrs.set(views[i], std::vector<int64_t>{i * e, b, 3 * e, h, d, s, 3 * e * b, d, 1});
        g.inputs.push_back({p.dtype, {s, b, 3 * e}, false, {}, -1.0, 1.0});
      }
      g.attrs.set("y_perm", std::vector<int64_t>{2, 0, 1, 3});
      g.tactic = tactic ? tactic : "";
      g.rtol = q.rtol;
      g.atol = q.atol;
      g.tf32 = std::string(q.name) == kTf32.name;
      std::string diff = compare_cuda_with_cpu(g);
      if (!gpu && diff.rfind("CUDA failed", 0) == 0) diff.clear();
      if (!diff.empty()) failures += cat("\n  ", g.name, ": ", diff);
      ++ran;
    }
  }
  EXPECT_EQ(failures, "");
  if (!gpu) GTEST_SKIP() << "no CUDA device (the CPU reference ran " << ran << " cases)";
}

// A view reaching past its input is refused when the layer is built, on both backends.
TEST(AttentionGpu, ViewsOutsideTheirInputAreRefused) {
  GpuCase g;
  g.name = "view past the end";
  g.op = "ScaledDotProductAttention";
  g.attrs.set("q_view", std::vector<int64_t>{8, 2, 16, 4, 1});  // reaches element 8 + 16 + 3
  g.inputs = {
      {DataType::kFloat32, {2, 12}}, {DataType::kFloat32, {2, 4}}, {DataType::kFloat32, {2, 4}}};
  std::string diff = compare_cuda_with_cpu(g);
  EXPECT_NE(diff.find("reaches outside its input"), std::string::npos) << diff;
}

// Forcing a tactic that cannot take the layer fails the build with the reason, not silently.
TEST(AttentionGpu, ForcingATacticThatDoesNotApplyNamesWhy) {
  if (!gpu_available()) GTEST_SKIP() << "no CUDA device";
  GpuCase g;
  g.name = "partial broadcast, gemm forced";
  g.op = "ScaledDotProductAttention";
  g.tactic = "gemm";
  g.inputs = {{DataType::kFloat16, {2, 3, 9, 16}},
              {DataType::kFloat16, {2, 1, 12, 16}},
              {DataType::kFloat16, {2, 3, 12, 16}}};
  std::string diff = compare_cuda_with_cpu(g);
  EXPECT_NE(diff.find("CUDA failed"), std::string::npos) << diff;
  EXPECT_NE(diff.find("does not apply"), std::string::npos) << diff;
  EXPECT_NE(diff.find("batch stride"), std::string::npos) << diff;
}

// --- Applicability of the GEMM tactic (host logic only; runs without a GPU) ---

// Args for contiguous Q [batch.., sq, d], K [kbatch.., sk, d] (or [.., d, sk]), V [.., sk, dv]
// with the strides AttentionKernel::prepare computes.
cuda::AttentionArgs args_for(const Shape& batch, const Shape& k_batch, int64_t sq, int64_t sk,
                             int64_t d, int64_t dv, bool k_transposed = false) {
  cuda::AttentionArgs a;
  a.sq = sq;
  a.sk = sk;
  a.d = d;
  a.dv = dv;
  a.num_batch_dims = static_cast<int>(batch.size());
  a.batches = shape_numel(batch);
  int64_t q_stride = sq * d, k_stride = sk * d, v_stride = sk * dv, y_stride = sq * dv;
  for (size_t i = batch.size(); i-- > 0;) {
    a.batch[i] = batch[i];
    a.q_batch[i] = q_stride;
    q_stride *= batch[i];
    a.y_batch[i] = y_stride;
    y_stride *= batch[i];
    const bool broadcast = k_batch[i] == 1 && batch[i] != 1;
    a.k_batch[i] = broadcast ? 0 : k_stride;
    a.v_batch[i] = broadcast ? 0 : v_stride;
    k_stride *= k_batch[i];
    v_stride *= k_batch[i];
  }
  a.q_row = d;
  a.q_col = 1;
  a.k_row = k_transposed ? 1 : d;
  a.k_col = k_transposed ? sk : 1;
  a.v_row = dv;
  a.v_col = 1;
  a.y_row = dv;
  a.y_col = 1;
  return a;
}

TEST(AttentionGemmPlan, TakesPackedOperandsWithOneBatchStride) {
  using cuda::AttentionGemm;
  const DataType h = DataType::kFloat16;
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({64, 12}, {64, 12}, 197, 197, 64, 64), h),
            "");
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({2, 4}, {2, 4}, 19, 45, 32, 32, true), h),
            "");
  // Shared by every entry (stride 0) or broadcast over dims of size 1 only: one stride still.
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({2, 3}, {1, 1}, 9, 12, 16, 16), h), "");
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({1, 3}, {1, 3}, 9, 12, 16, 16), h), "");
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({}, {}, 10, 12, 8, 8), h), "");
  // d = 1 and sk = 1 make K's two layouts look alike; both are packed.
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({2}, {2}, 5, 1, 1, 3), h), "");
  EXPECT_EQ(AttentionGemm::unsupported_reason(args_for({2}, {2}, 5, 7, 1, 3, true), h), "");
}

TEST(AttentionGemmPlan, RefusesWhatItCannotExpress) {
  using cuda::AttentionGemm;
  const DataType h = DataType::kFloat16;
  auto refused = [](const cuda::AttentionArgs& a, DataType t, const std::string& words) {
    std::string why = AttentionGemm::unsupported_reason(a, t);
    EXPECT_NE(why.find(words), std::string::npos) << "'" << why << "' lacks '" << words << "'";
  };
  refused(args_for({2, 3}, {1, 3}, 9, 12, 16, 16), h, "batch stride");  // partial broadcast
  refused(args_for({2, 3}, {2, 1}, 9, 12, 16, 16), h, "batch stride");
  refused(args_for({2}, {2}, 9, 12, 16, 16), DataType::kFloat64, "float64");
  refused(args_for({2}, {2}, 9, cuda::kAttentionGemmMaxKeys + 1, 16, 16), h, "keys");
  refused(args_for({2}, {2}, 0, 12, 16, 16), h, "empty");
  // One entry's scores over the budget: 8192 rows of 8192 float32 values are exactly 256 MiB.
  EXPECT_EQ(
      AttentionGemm::unsupported_reason(args_for({1}, {1}, 8192, 8192, 8, 8), DataType::kFloat32),
      "");
  refused(args_for({1}, {1}, 8193, 8192, 8, 8), DataType::kFloat32, "bytes");
  cuda::AttentionArgs strided = args_for({2}, {2}, 9, 12, 16, 16);
  strided.q_row = 32;  // not packed
  refused(strided, h, "Q's rows");
  strided = args_for({2}, {2}, 9, 12, 16, 16);
  strided.v_col = 0;
  refused(strided, h, "V's rows");
  strided = args_for({2}, {2}, 9, 12, 16, 16);
  strided.k_row = 32;
  refused(strided, h, "K's rows");
  strided = args_for({2, 3}, {2, 3}, 9, 12, 16, 16);
  strided.y_row = 48;  // heads interleaved in the output ([2, 9, 3, 16] stored)
  refused(strided, h, "Y is not written packed");
}

TEST(AttentionFlashPlan, TakesHeadsOf32To128WithAlignedRows) {
  const DataType h = DataType::kFloat16, bf = DataType::kBFloat16, f = DataType::kFloat32;
  EXPECT_EQ(cuda::flash_attention_unsupported_reason(args_for({64, 12}, {64, 12}, 197, 197, 64, 64),
                                                     h, false),
            "");
  EXPECT_EQ(cuda::flash_attention_unsupported_reason(args_for({2, 3}, {1, 3}, 9, 12, 128, 128), bf,
                                                     false),
            "");
  // FP32 runs with TF32 products, so only where the layer allows them.
  EXPECT_EQ(cuda::flash_attention_unsupported_reason(args_for({2}, {2}, 9, 12, 64, 64), f, true),
            "");
  auto refused = [](const cuda::AttentionArgs& a, DataType t, const std::string& words,
                    bool tf32 = false) {
    std::string why = cuda::flash_attention_unsupported_reason(a, t, tf32);
    EXPECT_NE(why.find(words), std::string::npos) << "'" << why << "' lacks '" << words << "'";
  };
  refused(args_for({2}, {2}, 9, 12, 64, 64), f, "TF32");
  refused(args_for({2}, {2}, 9, 12, 64, 64), DataType::kFloat64, "float64", true);
  cuda::AttentionArgs odd_f32 = args_for({2}, {2}, 9, 12, 64, 64);
  odd_f32.q_row = 66;  // rows 264 bytes apart: no 16-byte loads of floats
  refused(odd_f32, f, "aligned", true);
  odd_f32.q_row = 68;  // 272 bytes: whole 16-byte vectors of floats
  EXPECT_EQ(cuda::flash_attention_unsupported_reason(odd_f32, f, true), "");
  refused(args_for({2}, {2}, 9, 12, 48, 48), h, "heads");
  refused(args_for({2}, {2}, 9, 12, 64, 32), h, "heads");
  refused(args_for({2}, {2}, 9, 12, 64, 64, true), h, "innermost");
  cuda::AttentionArgs odd = args_for({2}, {2}, 9, 12, 64, 64);
  odd.q_row = 68;  // rows 136 bytes apart: no 16-byte loads
  refused(odd, h, "aligned");
}

}  // namespace
}  // namespace kiln::test
