// The individual passes; each lives in its own file of this folder.
#pragma once

#include <functional>

#include "ir/graph.hpp"

namespace kiln::passes {

// Removes Identity and inference-mode Dropout, and Cast/Reshape/Transpose/Expand/Squeeze/
// Unsqueeze/Flatten that provably leave their input unchanged.
bool eliminate_noops(ir::Graph& graph);
// Replaces Where with a constant all-true or all-false condition by the branch it selects.
bool eliminate_constant_selects(ir::Graph& graph);
// Replaces If layers with a constant condition by the nodes of the branch they take.
bool inline_constant_ifs(ir::Graph& graph);
// Evaluates nodes whose inputs are all constant, and Shape/Size of statically shaped tensors.
bool fold_constants(ir::Graph& graph);
// Merges nodes that compute the same op on the same inputs with the same attributes.
bool eliminate_common_subexpressions(ir::Graph& graph);
// Drops nodes whose outputs nobody uses, and unused values.
bool eliminate_dead_code(ir::Graph& graph);
// Replaces decomposed layer normalization (ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div[/Mul/Add])
// by LayerNormalization.
bool recognize_layernorm(ir::Graph& graph);
// Replaces GELU written elementwise (erf or tanh form) by Gelu.
bool recognize_gelu(ir::Graph& graph);
// Replaces MatMul/scale/mask/Softmax/MatMul attention by ScaledDotProductAttention.
bool recognize_attention(ir::Graph& graph);
// Folds Transpose and Reshape pairs, and Transpose pairs around elementwise layers.
bool cancel_transposes(ir::Graph& graph);
// product -> Reshape -> Add(residual of the Reshape's shape): the residual fuses into the product
// (read through a Reshape view) and the Reshape carries the sum (fuse_epilogues.cpp). Attention
// rewrites leave this behind PyTorch MHA's output projection.
bool fuse_residual_through_reshape(ir::Graph& graph);
// A chain of rearranging layers ending in a Transpose that lays the elements out as its source
// does becomes one Reshape of the source (collapse_view_chains.cpp).
bool collapse_view_chains(ir::Graph& graph);
// Convolutions whose kernel tiles the input (stride = kernel, no padding: patch embeddings) become
// a transpose of the input and a Gemm (patchify_to_gemm.cpp).
bool patchify_to_gemm(ir::Graph& graph);
// Channels-last convolutions reading fewer channels than one 16-byte vector holds get their input
// and weights zero-padded to that width, for the GPU libraries' tensor-core kernels
// (pad_narrow_conv_channels.cpp).
bool pad_narrow_conv_channels(ir::Graph& graph);

// GPU builds, before pad_narrow_conv_channels: a stride-2 16-bit stem convolution over a few
// channels becomes a stride-1 one over the 2x2 space-to-depth blocks of its input
// (space_to_depth_stem.cpp).
bool space_to_depth_stems(ir::Graph& graph);

// GPU builds, last: chains of Cast, Reshape, Transpose and a trailing zero Pad with two or more
// copying layers become one Rearrange (fuse_rearrange_chains.cpp).
bool fuse_rearrange_chains(ir::Graph& graph);
// The Q, K and V projections of the attention layers `wanted` accepts (all if empty), when they
// read one input, become one product sliced by views (merge_attention_projections.cpp).
bool merge_attention_projections(ir::Graph& graph,
                                 const std::function<bool(const ir::Node&)>& wanted = {});
// Head-split/merge Transposes around ScaledDotProductAttention become its q/k/v/y_perm attributes
// (absorb_attention_transposes.cpp), for the attention layers `wanted` accepts (all if empty).
bool absorb_attention_transposes(ir::Graph& graph,
                                 const std::function<bool(const ir::Node&)>& wanted = {});
// Fuses groups of elementwise layers into Pointwise layers.
bool fuse_pointwise(ir::Graph& graph);
// Folds inference BatchNormalization into the Conv/ConvTranspose/Gemm/MatMul before it.
bool fold_batchnorm(ir::Graph& graph);
// Folds Mul/Div/Add/Sub by per-channel constants into the weights and bias of the layer before
// them (and Mul by per-input-channel constants into the layer after them).
bool fold_scale_into_weights(ir::Graph& graph);
// Fuses Conv/ConvTranspose/Gemm/MatMul + bias + residual Add + activation into FusedConv and
// FusedMatMul.
bool fuse_epilogues(ir::Graph& graph);

}  // namespace kiln::passes
