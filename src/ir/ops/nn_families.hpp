// Registration functions of the nn family's op groups; register_nn_ops (nn.cpp) calls them all.
#pragma once

namespace kiln::ir {

class OpRegistry;

void register_conv_ops(OpRegistry& r);           // Conv, ConvTranspose
void register_pool_ops(OpRegistry& r);           // MaxPool, AveragePool, LpPool, Global*Pool
void register_matmul_ops(OpRegistry& r);         // MatMul, Gemm, Einsum
void register_normalization_ops(OpRegistry& r);  // BatchNorm, LayerNorm, InstanceNorm, ...
void register_softmax_ops(OpRegistry& r);        // Softmax, LogSoftmax, Hardmax

}  // namespace kiln::ir
