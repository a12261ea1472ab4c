"""Which PyTorch ONNX exporter each benchmark model is exported with (no torch import here, so
table-only tools can use it). The TorchScript exporter is the default, as TensorRT's published
layer counts come from it; transformers models use the dynamo exporter, because PyTorch 2.11's
TorchScript exporter rejects their keyword arguments."""

EXPORTER = {"bert_base": "dynamo", "gpt2": "dynamo", "hf_vit_base": "dynamo"}
DEFAULT_EXPORTER = "torchscript"


def exporter_for(name, forced=None):
    return forced or EXPORTER.get(name, DEFAULT_EXPORTER)
