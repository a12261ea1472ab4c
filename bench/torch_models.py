#!/usr/bin/env python3
"""Exports the model suite (torchvision, timm, transformers architectures with random weights)
to ONNX with either PyTorch exporter. Used by the coverage check and the GPU benchmarks.

Usage: torch_models.py OUT_DIR --exporter {torchscript,dynamo} [--only NAME ...] [--batch N]
Writes OUT_DIR/<name>.<exporter>.onnx (external data beside it when large) and prints one JSON
line per model: {"name", "exporter", "path", "ok", "error", "seconds"}.
"""
import argparse
import json
import os
import sys
import time
import traceback
import warnings

import torch


def classification(name, size=224):
    def make():
        import torchvision

        return getattr(torchvision.models, name)(weights=None).eval(), {"x": torch.randn(1, 3, size, size)}

    return make


def detection(name):
    def make():
        import torchvision

        model = getattr(torchvision.models.detection, name)(weights=None, weights_backbone=None).eval()
        return model, {"images": torch.randn(1, 3, 320, 320)}

    return make


def segmentation(name):
    def make():
        import torchvision

        model = getattr(torchvision.models.segmentation, name)(weights=None, weights_backbone=None).eval()
        return model, {"x": torch.randn(1, 3, 224, 224)}

    return make


def bert():
    from transformers import BertConfig, BertModel

    model = BertModel(BertConfig()).eval()
    ids = torch.randint(0, 30000, (1, 128))
    return model, {"input_ids": ids, "attention_mask": torch.ones(1, 128, dtype=torch.int64)}


def gpt2():
    from transformers import GPT2Config, GPT2Model

    cfg = GPT2Config()
    cfg.use_cache = False
    model = GPT2Model(cfg).eval()
    return model, {"input_ids": torch.randint(0, 50000, (1, 128))}


def hf_vit():
    from transformers import ViTConfig, ViTModel

    return ViTModel(ViTConfig()).eval(), {"pixel_values": torch.randn(1, 3, 224, 224)}


MODELS = {
    "resnet50": classification("resnet50"),
    "resnet152": classification("resnet152"),
    "vgg19": classification("vgg19"),
    "mobilenet_v2": classification("mobilenet_v2"),
    "mobilenet_v3_large": classification("mobilenet_v3_large"),
    "efficientnet_b0": classification("efficientnet_b0"),
    "inception_v3": classification("inception_v3", 299),
    "googlenet": classification("googlenet"),
    "densenet121": classification("densenet121"),
    "squeezenet1_1": classification("squeezenet1_1"),
    "shufflenet_v2_x1_0": classification("shufflenet_v2_x1_0"),
    "regnet_y_400mf": classification("regnet_y_400mf"),
    "convnext_tiny": classification("convnext_tiny"),
    "swin_t": classification("swin_t"),
    "vit_b_16": classification("vit_b_16"),
    "fasterrcnn_mobilenet_v3_large_fpn": detection("fasterrcnn_mobilenet_v3_large_fpn"),
    "retinanet_resnet50_fpn": detection("retinanet_resnet50_fpn"),
    "ssdlite320_mobilenet_v3_large": detection("ssdlite320_mobilenet_v3_large"),
    "maskrcnn_resnet50_fpn": detection("maskrcnn_resnet50_fpn"),
    "deeplabv3_mobilenet_v3_large": segmentation("deeplabv3_mobilenet_v3_large"),
    "fcn_resnet50": segmentation("fcn_resnet50"),
    "lraspp_mobilenet_v3_large": segmentation("lraspp_mobilenet_v3_large"),
    "bert_base": bert,
    "gpt2": gpt2,
    "hf_vit_base": hf_vit,
}

DETECTION = {n for n in MODELS if "rcnn" in n or "retinanet" in n or "ssd" in n}
HUGGINGFACE = {"bert_base", "gpt2", "hf_vit_base"}


def export(name, exporter, out_dir, batch):
    model, inputs = MODELS[name]()
    if batch != 1:
        inputs = {k: v.repeat(batch, *([1] * (v.dim() - 1))) for k, v in inputs.items()}
    args, kwargs = tuple(inputs.values()), {}
    if name in DETECTION:
        args = ([args[0][0]],)  # detection models take a list of images
    elif name in HUGGINGFACE:
        args, kwargs = (), dict(inputs)  # forward() takes these by keyword
    path = os.path.join(out_dir, f"{name}.{exporter}.onnx")
    # nn.MultiheadAttention's fused inference path has no ONNX symbolic in the TorchScript exporter.
    torch.backends.mha.set_fastpath_enabled(False)
    with torch.no_grad():
        if exporter == "torchscript":
            torch.onnx.export(model, args, path, kwargs=kwargs, input_names=list(inputs),
                              opset_version=17, dynamo=False)
        else:
            prog = torch.onnx.export(model, args, kwargs=kwargs, input_names=list(inputs),
                                     dynamo=True, optimize=True)
            prog.save(path)
    return path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("--exporter", choices=["torchscript", "dynamo"], required=True)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--batch", type=int, default=1)
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    warnings.simplefilter("ignore")
    torch.manual_seed(0)
    for name in args.only or MODELS:
        start = time.time()
        rec = {"name": name, "exporter": args.exporter, "ok": False, "error": "", "path": ""}
        try:
            rec["path"] = export(name, args.exporter, args.out_dir, args.batch)
            rec["ok"] = True
        except Exception as e:  # an exporter failure is a result to report, not a crash
            rec["error"] = f"{type(e).__name__}: {str(e).splitlines()[0][:300] if str(e) else ''}"
            traceback.print_exc(file=sys.stderr)
        rec["seconds"] = round(time.time() - start, 1)
        print(json.dumps(rec), flush=True)


if __name__ == "__main__":
    main()
