"""What both directions share: importing PyTorch, and the names both sides use."""

# Keys of the modules to_torch adds beside a layer's own in an nn.Sequential: a fused
# activation, the padding before a convolution, the crop after a transposed one.
ACTIVATION, PAD, CROP = "_activation", "_pad", "_crop"
OUTPUT_SIGMOID = "output_sigmoid"       # the model's output sigmoid, last in the decoder


def _import_torch(owner):
    try:
        import torch
    except ImportError as exc:
        raise ImportError(f"{owner} needs the package 'torch' (PyTorch), which is not "
                          f"installed: pip install torch. ({exc})") from exc
    return torch
