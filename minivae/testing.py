"""Helpers for other people's test suites: assertions and hypothesis strategies.

    assert_grad(f, grad, x)             check_grad, raising AssertionError on FAIL
    assert_vjp(f, vjp, *inputs)         check_vjp, likewise
    assert_layer(layer, x)              check_layer, likewise
    assert_passes(report)               the same for any GradCheckReport

The message of the AssertionError is the whole report: the table, the worst
entries with their analytic, central and one-sided values, and the hints. An
inconclusive report passes unless strict=True (it found nothing beyond rounding,
but could not certify rtol either).

    conv_geometries(...)                a hypothesis strategy of ConvGeometry:
                                        batch, height, width, channels, filters,
                                        kernel_size, strides, padding ('same',
                                        'valid' or PyTorch's integer padding)

hypothesis is a test dependency, not a runtime one: this module imports it only
inside the strategy functions, so `import minivae.testing` works without it.
"""

from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .gradcheck import check_grad, check_layer, check_vjp
from .im2col import conv_output_length


def assert_passes(report, strict=False):
    """Raise AssertionError(str(report)) if the verdict is FAIL (or, with strict,
    anything but pass); return the report otherwise."""
    bad = report.verdict == "FAIL" or (strict and report.verdict != "pass")
    if bad:
        raise AssertionError(f"gradient check {report.verdict}\n{report}")
    return report


def assert_grad(f, grad, x, strict=False, **options):
    """check_grad(f, grad, x, **options), asserted."""
    return assert_passes(check_grad(f, grad, x, **options), strict)


def assert_vjp(f, vjp, *inputs, strict=False, **options):
    """check_vjp(f, vjp, *inputs, **options), asserted."""
    return assert_passes(check_vjp(f, vjp, *inputs, **options), strict)


def assert_layer(layer, x, strict=False, **options):
    """check_layer(layer, x, **options), asserted."""
    return assert_passes(check_layer(layer, x, **options), strict)


@dataclass(frozen=True)
class ConvGeometry:
    """One 2-D convolution's shapes, NHWC, with Keras's arguments.

    output_size follows Keras (TensorFlow): 'same' gives ceil(size / stride) and
    pads the odd pixel after; 'valid' gives (size - kernel) // stride + 1; an
    integer padding p follows PyTorch, (size + 2p - kernel) // stride + 1.
    """
    batch: int
    height: int
    width: int
    channels: int
    filters: int
    kernel_size: int
    strides: int
    padding: object             # 'same', 'valid' or an int

    @property
    def input_shape(self):
        return (self.batch, self.height, self.width, self.channels)

    def output_size(self, size):
        return conv_output_length(size, self.kernel_size, self.strides, self.padding)

    @property
    def output_shape(self):
        return (self.batch, self.output_size(self.height), self.output_size(self.width),
                self.filters)

    @property
    def kernel_shape(self):
        return (self.kernel_size, self.kernel_size, self.channels, self.filters)

    def arrays(self, seed):
        """(x, kernel, bias) drawn from numpy's default_rng(seed): x ~ N(0, 1),
        kernel ~ N(0, 1) / kernel_size, bias ~ N(0, 1)."""
        rng = np.random.default_rng(seed)
        return (rng.standard_normal(self.input_shape),
                rng.standard_normal(self.kernel_shape) / self.kernel_size,
                rng.standard_normal(self.filters))


def conv_geometries(max_size=8, max_batch=3, max_channels=3, max_filters=3,
                    kernel_sizes=(1, 2, 3), strides=(1, 2), paddings=("same", "valid")):
    """A hypothesis strategy of ConvGeometry covering what breaks convolutions:
    odd and even sizes, kernels larger than the stride, both paddings, batch > 1
    and several channels. `paddings` may also hold integers, PyTorch's padding on
    both sides, e.g. ("same", "valid", 1). 'valid' and integer geometries keep the
    kernel within the padded input. Shrinks toward batch 1, one channel, the first
    kernel size, stride and padding."""
    from hypothesis import strategies as st

    @st.composite
    def geometry(draw):
        kernel = draw(st.sampled_from(kernel_sizes))
        padding = draw(st.sampled_from(paddings))
        if padding == "same":
            low = 1
        else:
            low = max(1, kernel - 2 * (0 if padding == "valid" else padding))
        if low > max_size:
            raise InputError(f"conv_geometries: kernel size {kernel} does not fit in "
                             f"max_size {max_size} with padding {padding!r}")
        return ConvGeometry(batch=draw(st.integers(1, max_batch)),
                            height=draw(st.integers(low, max_size)),
                            width=draw(st.integers(low, max_size)),
                            channels=draw(st.integers(1, max_channels)),
                            filters=draw(st.integers(1, max_filters)),
                            kernel_size=kernel, strides=draw(st.sampled_from(strides)),
                            padding=padding)
    return geometry()


def seeds():
    """A hypothesis strategy of seeds for numpy.random.default_rng."""
    from hypothesis import strategies as st
    return st.integers(min_value=0, max_value=2**32 - 1)
