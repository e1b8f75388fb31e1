"""A convolution's padding in PyTorch's terms, for to_torch and from_torch (numpy only).

Conv2d pads both sides alike (padding=p), or as TensorFlow does at stride 1
(padding="same"); anything else takes a ZeroPad2d before it. ConvTranspose2d
computes the full transposed output, (n - 1) s + k long, and crops p from its
start and p - output_padding from its end, 0 <= output_padding < s; a longer crop
at the end takes a ZeroPad2d with negative amounts after it (PyTorch's pad crops
where the amounts are negative).

PyTorch's integer padding is minivae's integer padding, both ways; Keras's words
travel as PyTorch's words ('valid', 'same') or with a ZeroPad2d beside the
convolution, which from_torch reads back as the word.
"""

from ..errors import InputError


def conv_geometry(layer):
    """(zero_pad, padding) of PyTorch for a built Conv2D: zero_pad is ZeroPad2d's
    (left, right, top, bottom) or None, padding what Conv2d takes.

    'valid' is padding='valid'; 'same' at stride 1 is padding='same' (PyTorch pads as
    TensorFlow does there); 'same' at larger strides pads as TensorFlow does for this
    input size, often more at the bottom and right than at the top and left: a
    ZeroPad2d before a Conv2d(padding=0) says so. Integer padding is padding=(ph, pw).
    """
    (top, bottom), (left, right) = layer.pads
    if layer.padding == "same" and tuple(layer.strides) != (1, 1):
        return (left, right, top, bottom), (0, 0)
    if isinstance(layer.padding, str):
        return None, layer.padding
    return None, (top, left)


def transpose_crops(layer):
    """((top, bottom), (left, right)): what a built Conv2DTranspose keeps out of the
    full transposed output of each axis, cropped from its start and its end (an end
    crop < 0: zeros beyond the full output, which the bias then reaches)."""
    crops = []
    for axis in (0, 1):
        n, k, s = layer.input_shape[axis], layer.kernel_size[axis], layer.strides[axis]
        start = layer.pads[axis][0]
        crops.append((start, (n - 1) * s + k - start - layer.output_shape[axis]))
    return tuple(crops)


def transpose_geometry(layer, owner):
    """(padding, output_padding, crop) of PyTorch for a built Conv2DTranspose: crop is
    ZeroPad2d's (left, right, top, bottom), all <= 0, after the ConvTranspose2d, or None
    for integer padding. Keras's 'valid' and 'same' always have one, all zeros where
    padding and output_padding say it all: it marks them, so that they come back."""
    padding, output_padding, extra = [], [], []
    for (start, end), s in zip(transpose_crops(layer), layer.strides):
        if 0 <= start - end < s:
            padding.append(start), output_padding.append(start - end), extra.append(0)
        elif end > start >= 0:
            padding.append(start), output_padding.append(0), extra.append(end - start)
        else:
            raise InputError(f"{owner}: layer {layer.name!r} (Conv2DTranspose) crops {start} "
                             f"and {end} from the two ends of its output, which no "
                             f"ConvTranspose2d (with a ZeroPad2d after it) does")
    crop = (0, -extra[1], 0, -extra[0]) if isinstance(layer.padding, str) else None
    return tuple(padding), tuple(output_padding), crop
