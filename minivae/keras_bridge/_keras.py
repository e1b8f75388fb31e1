"""What both directions share: importing Keras, and the names both sides use."""

FUSED = ("relu", "leaky_relu", "sigmoid")     # the activations minivae's layers fuse
OUTPUT_SIGMOID = "output_sigmoid"             # a standalone output sigmoid's name in Keras


def _import_keras(owner):
    try:
        import keras
    except ImportError as exc:
        raise ImportError(f"{owner} needs the package 'keras' (Keras 3), which is not "
                          f"installed: pip install keras tensorflow (or keras with jax or "
                          f"torch as its backend). ({exc})") from exc
    if int(keras.__version__.split(".")[0]) < 3:
        raise ImportError(f"{owner} needs Keras 3, found keras {keras.__version__}")
    return keras
