#!/usr/bin/env python3
"""Builds small real-architecture ONNX models (random weights, fixed seed) for kiln's demo and its
parity tests against ONNX Runtime:

  resnet_tiny       ResNet-style CNN: Conv+BatchNorm+Relu stem, MaxPool, basic residual blocks
                    (one with a strided 1x1 projection), GlobalAveragePool, Flatten, Gemm
  mobilenet_tiny    MobileNetV2-style CNN: inverted residual blocks with depthwise Conv, BatchNorm
                    and Clip(0, 6) (Relu6), GlobalAveragePool, Reshape, MatMul + Add head
  transformer_tiny  a transformer encoder block: LayerNormalization, multi-head self-attention
                    (MatMul, Reshape, Transpose, scaled Softmax with an additive mask), GELU in its
                    Erf form, residual Adds, and a second block whose LayerNorm is decomposed into
                    ReduceMean/Sub/Pow/Sqrt/Div as older exporters write it

Usage: make_models.py OUT_DIR [--only NAME]
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17


class Builder:
    def __init__(self, name: str, seed: int):
        self.name = name
        self.rng = np.random.default_rng(seed)
        self.nodes = []
        self.inits = []
        self.count = 0

    def fresh(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def weight(self, base: str, shape, scale=None, value=None) -> str:
        name = self.fresh(base)
        if value is None:
            fan_in = int(np.prod(shape[1:])) if len(shape) > 1 else int(shape[0])
            s = scale if scale is not None else np.sqrt(2.0 / max(fan_in, 1))
            value = (self.rng.standard_normal(shape) * s).astype(np.float32)
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, op_type: str, inputs, n_out=1, **attrs):
        outs = [self.fresh(op_type.lower()) for _ in range(n_out)]
        self.nodes.append(helper.make_node(op_type, inputs, outs, name=self.fresh(op_type), **attrs))
        return outs[0] if n_out == 1 else outs

    def conv_bn(self, x, cin, cout, k, stride=1, group=1, act="relu"):
        w = self.weight("conv_w", [cout, cin // group, k, k])
        y = self.op("Conv", [x, w], kernel_shape=[k, k], strides=[stride, stride],
                    pads=[k // 2] * 4, group=group)
        scale = self.weight("bn_scale", [cout], value=self.rng.uniform(0.5, 1.5, cout).astype(np.float32))
        bias = self.weight("bn_bias", [cout], value=self.rng.uniform(-0.2, 0.2, cout).astype(np.float32))
        mean = self.weight("bn_mean", [cout], value=self.rng.uniform(-0.2, 0.2, cout).astype(np.float32))
        var = self.weight("bn_var", [cout], value=self.rng.uniform(0.5, 1.5, cout).astype(np.float32))
        y = self.op("BatchNormalization", [y, scale, bias, mean, var], epsilon=1e-5)
        if act == "relu":
            y = self.op("Relu", [y])
        elif act == "relu6":
            lo = self.weight("zero", [], value=np.array(0.0, np.float32))
            hi = self.weight("six", [], value=np.array(6.0, np.float32))
            y = self.op("Clip", [y, lo, hi])
        return y

    def model(self, inputs, outputs) -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, self.name, inputs, outputs, self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="kiln make_models.py")
        onnx.checker.check_model(m)
        return m


def resnet_tiny() -> onnx.ModelProto:
    b = Builder("resnet_tiny", seed=1)
    x = b.conv_bn("input", 3, 16, 3, stride=1)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    for cin, cout, stride in [(16, 16, 1), (16, 32, 2), (32, 32, 1)]:
        y = b.conv_bn(x, cin, cout, 3, stride=stride)
        y = b.conv_bn(y, cout, cout, 3, act=None)
        shortcut = x if (cin == cout and stride == 1) else b.conv_bn(x, cin, cout, 1, stride=stride, act=None)
        x = b.op("Relu", [b.op("Add", [y, shortcut])])
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    w = b.weight("fc_w", [10, 32])
    bias = b.weight("fc_b", [10], scale=0.1)
    logits = b.op("Gemm", [x, w, bias], transB=1)
    probs = b.op("Softmax", [logits], axis=-1)
    return b.model(
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info(probs, TensorProto.FLOAT, ["batch", 10])],
    )


def mobilenet_tiny() -> onnx.ModelProto:
    b = Builder("mobilenet_tiny", seed=2)
    x = b.conv_bn("input", 3, 16, 3, stride=2, act="relu6")
    cin = 16
    for expand, cout, stride in [(4, 16, 1), (4, 24, 2), (4, 24, 1)]:
        hidden = cin * expand
        y = b.conv_bn(x, cin, hidden, 1, act="relu6")
        y = b.conv_bn(y, hidden, hidden, 3, stride=stride, group=hidden, act="relu6")
        y = b.conv_bn(y, hidden, cout, 1, act=None)
        x = b.op("Add", [x, y]) if (cin == cout and stride == 1) else y
        cin = cout
    x = b.op("GlobalAveragePool", [x])
    shape = b.weight("shape", [2], value=np.array([-1, cin], np.int64))
    x = b.op("Reshape", [x, shape])
    w = b.weight("fc_w", [cin, 10])
    bias = b.weight("fc_b", [10], scale=0.1)
    logits = b.op("Add", [b.op("MatMul", [x, w]), bias])
    return b.model(
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", 3, 32, 32])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, ["batch", 10])],
    )


def transformer_tiny() -> onnx.ModelProto:
    b = Builder("transformer_tiny", seed=3)
    d, heads, ff = 32, 4, 64
    hd = d // heads

    def layer_norm(x, decomposed):
        gamma = b.weight("ln_g", [d], value=b.rng.uniform(0.8, 1.2, d).astype(np.float32))
        beta = b.weight("ln_b", [d], scale=0.1)
        if not decomposed:
            return b.op("LayerNormalization", [x, gamma, beta], axis=-1, epsilon=1e-5)
        mean = b.op("ReduceMean", [x], axes=[-1])
        xc = b.op("Sub", [x, mean])
        two = b.weight("two", [], value=np.array(2.0, np.float32))
        var = b.op("ReduceMean", [b.op("Pow", [xc, two])], axes=[-1])
        eps = b.weight("eps", [], value=np.array(1e-5, np.float32))
        y = b.op("Div", [xc, b.op("Sqrt", [b.op("Add", [var, eps])])])
        return b.op("Add", [b.op("Mul", [y, gamma]), beta])

    def gelu(x):
        inv_sqrt2 = b.weight("c", [], value=np.array(1 / np.sqrt(2), np.float32))
        one = b.weight("one", [], value=np.array(1.0, np.float32))
        half = b.weight("half", [], value=np.array(0.5, np.float32))
        e = b.op("Erf", [b.op("Mul", [x, inv_sqrt2])])
        return b.op("Mul", [b.op("Mul", [x, b.op("Add", [e, one])]), half])

    def heads_first(x):
        shape = b.weight("shape", [4], value=np.array([0, 0, heads, hd], np.int64))
        return b.op("Transpose", [b.op("Reshape", [x, shape])], perm=[0, 2, 1, 3])

    def block(x, mask, decomposed):
        h = layer_norm(x, decomposed)
        q = heads_first(b.op("Add", [b.op("MatMul", [h, b.weight("wq", [d, d])]), b.weight("bq", [d], scale=0.02)]))
        k = heads_first(b.op("Add", [b.op("MatMul", [h, b.weight("wk", [d, d])]), b.weight("bk", [d], scale=0.02)]))
        v = heads_first(b.op("Add", [b.op("MatMul", [h, b.weight("wv", [d, d])]), b.weight("bv", [d], scale=0.02)]))
        kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        scale = b.weight("scale", [], value=np.array(1 / np.sqrt(hd), np.float32))
        scores = b.op("Add", [b.op("Mul", [b.op("MatMul", [q, kt]), scale]), mask])
        attn = b.op("Softmax", [scores], axis=-1)
        ctx = b.op("Transpose", [b.op("MatMul", [attn, v])], perm=[0, 2, 1, 3])
        shape = b.weight("shape", [3], value=np.array([0, 0, d], np.int64))
        ctx = b.op("Reshape", [ctx, shape])
        x = b.op("Add", [x, b.op("MatMul", [ctx, b.weight("wo", [d, d])])])
        h = layer_norm(x, decomposed)
        h = gelu(b.op("Add", [b.op("MatMul", [h, b.weight("w1", [d, ff])]), b.weight("b1", [ff], scale=0.02)]))
        h = b.op("Add", [b.op("MatMul", [h, b.weight("w2", [ff, d])]), b.weight("b2", [d], scale=0.02)])
        return b.op("Add", [x, h])

    # Additive attention mask from a 0/1 padding mask: (1 - m) * -10000, shaped [batch, 1, 1, seq].
    axes = b.weight("axes", [2], value=np.array([1, 2], np.int64))
    m = b.op("Unsqueeze", [b.op("Cast", ["mask"], to=TensorProto.FLOAT), axes])
    one = b.weight("one", [], value=np.array(1.0, np.float32))
    neg = b.weight("neg", [], value=np.array(-10000.0, np.float32))
    additive = b.op("Mul", [b.op("Sub", [one, m]), neg])
    x = block("input", additive, decomposed=False)
    x = block(x, additive, decomposed=True)
    return b.model(
        [
            helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", "seq", d]),
            helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, ["batch", "seq", d])],
    )


MODELS = {"resnet_tiny": resnet_tiny, "mobilenet_tiny": mobilenet_tiny, "transformer_tiny": transformer_tiny}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--only", choices=sorted(MODELS))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for name, make in MODELS.items():
        if args.only and name != args.only:
            continue
        path = os.path.join(args.out_dir, name + ".onnx")
        onnx.save(make(), path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
