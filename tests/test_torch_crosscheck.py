"""minivae against the real PyTorch: explicit padding and output_padding, and the
default initialisation's fans and bounds.

Runs only where torch is importable (the module skips cleanly elsewhere) and is
never the only proof of anything: the padding rules are also proved by the slow
scatter and loop references (tests/test_conv.py), finite differences and the
adjoint identity, and the initialisers by their definitions
(tests/test_initializers.py). What this file adds is PyTorch's own reading:

    /work/venv-torch/bin/python -m pytest -q tests/test_torch_crosscheck.py

Layouts: data NHWC here, NCHW there (x.transpose(0, 3, 1, 2)). Conv2D's kernel
(kh, kw, C, F) is torch's Conv2d weight (F, C, kh, kw); Conv2DTranspose's
(kh, kw, F, C) is torch's ConvTranspose2d weight (C, F, kh, kw): both are
kernel.transpose(3, 2, 0, 1).
"""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given  # noqa: E402

from minivae.layers import Conv2D, Conv2DTranspose, Dense  # noqa: E402
from minivae.layers.initializers import get_initializer  # noqa: E402
from tests.reference import conv_cases  # noqa: E402

# float64 on both sides, the same products summed in another order: values are O(1)
# sums of at most 4*4*3 = 48 terms (times the batch for the weight gradients), so
# rounding stays near 1e-15 of the scale; 1e-12 leaves room while a shifted tap or a
# wrong crop errs by order 1.
RTOL = 1e-12


def rel_err(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0))
    return 0.0 if scale == 0 else float(np.abs(a - b).max() / scale)


def torch_conv(transpose, x, W, b, strides, padding, output_padding):
    """y, dx, dW, db of torch's functional conv (NHWC in, NHWC out), for <y, dy> with
    dy drawn by the caller afterwards: returns a closure taking dy."""
    xt = torch.tensor(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), requires_grad=True)
    Wt = torch.tensor(np.ascontiguousarray(W.transpose(3, 2, 0, 1)), requires_grad=True)
    bt = torch.tensor(b, requires_grad=True)
    if transpose:
        yt = torch.nn.functional.conv_transpose2d(xt, Wt, bt, stride=strides, padding=padding,
                                                  output_padding=output_padding)
    else:
        yt = torch.nn.functional.conv2d(xt, Wt, bt, stride=strides, padding=padding)

    def grads(dy):
        yt.backward(torch.tensor(np.ascontiguousarray(dy.transpose(0, 3, 1, 2))))
        return (xt.grad.numpy().transpose(0, 2, 3, 1), Wt.grad.numpy().transpose(2, 3, 1, 0),
                bt.grad.numpy())
    return yt.detach().numpy().transpose(0, 2, 3, 1), grads


def _check(cls, case, seed):
    rng = np.random.default_rng(seed)
    transpose = cls is Conv2DTranspose
    op = case["output_padding"] if transpose else None
    layer = cls(case["filters"], case["kernel"], strides=case["strides"],
                padding=case["padding"], **({"output_padding": op} if transpose else {}))
    layer.build((case["h"], case["w"], case["channels"]), rng=rng, dtype="float64")
    layer.params["bias"] = rng.standard_normal(case["filters"])
    x = rng.standard_normal((case["batch"], case["h"], case["w"], case["channels"]))
    y_t, grads = torch_conv(transpose, x, layer.params["kernel"], layer.params["bias"],
                            case["strides"], case["padding"], op or 0)
    y = layer.forward(x)
    assert y.shape == y_t.shape
    dy = rng.standard_normal(y.shape)
    dx_t, dW_t, db_t = grads(dy)
    dx = layer.backward(dy)
    errors = [rel_err(y, y_t), rel_err(dx, dx_t), rel_err(layer.grads["kernel"], dW_t),
              rel_err(layer.grads["bias"], db_t)]
    assert max(errors) <= RTOL, errors
    return max(errors)


@given(case=conv_cases(kinds=("explicit",)))
def test_conv2d_with_integer_padding_matches_torch(case):
    _check(Conv2D, case, 0)


@given(case=conv_cases(kinds=("explicit",)))
def test_conv2d_transpose_with_padding_and_output_padding_matches_torch(case):
    _check(Conv2DTranspose, case, 1)


@pytest.mark.parametrize("transpose, shape, padding, output_padding", [
    (False, (32, 32, 1), 1, 0),              # issue 25's encoder step
    (True, (16, 16, 2), 1, 1),               # and its decoder step, 16 -> 32
    (True, (5, 7, 3), (2, 1), (1, 0)),
])
def test_the_issues_layers_match_torch(transpose, shape, padding, output_padding):
    case = dict(batch=2, h=shape[0], w=shape[1], channels=shape[2], filters=3, kernel=(3, 3),
                strides=(2, 2), padding=padding if isinstance(padding, tuple) else
                (padding, padding), output_padding=(output_padding, output_padding)
                if isinstance(output_padding, int) else output_padding)
    _check(Conv2DTranspose if transpose else Conv2D, case, 2)


# ----------------------------------------------------------------- initialisation --

def _torch_twin(layer):
    if type(layer) is Dense:
        return torch.nn.Linear(layer.input_shape[0], layer.units, dtype=torch.float64)
    make = torch.nn.Conv2d if type(layer) is Conv2D else torch.nn.ConvTranspose2d
    return make(layer.input_shape[-1], layer.filters, layer.kernel_size, dtype=torch.float64)


INIT_LAYERS = [(lambda **kw: Dense(7, **kw), (300,)),
               (lambda **kw: Conv2D(16, (3, 2), **kw), (8, 8, 5)),
               (lambda **kw: Conv2DTranspose(6, (3, 4), **kw), (8, 8, 20))]


@pytest.mark.parametrize("make, shape", INIT_LAYERS, ids=["Dense", "Conv2D", "Conv2DTranspose"])
def test_torch_default_uses_torchs_fan_in_and_bounds(make, shape):
    """torch's reset_parameters: weight kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)),
    bias U(+-1/sqrt(fan_in)), fan_in = weight.size(1) * receptive field, which for
    ConvTranspose2d's (in, out, kh, kw) weight is out * kh * kw."""
    ours = make(kernel_initializer="torch_default", bias_initializer="torch_default")
    ours.build(shape, rng=np.random.default_rng(1), dtype="float64")
    torch.manual_seed(0)
    twin = _torch_twin(ours)
    fan_in, _ = torch.nn.init._calculate_fan_in_and_fan_out(twin.weight)
    assert ours.fans().fan_in == fan_in
    bound = 1 / math.sqrt(fan_in)
    # torch's own bound, as kaiming_uniform computes it: gain * sqrt(3 / fan_in)
    gain = torch.nn.init.calculate_gain("leaky_relu", math.sqrt(5))
    assert gain * math.sqrt(3 / fan_in) == pytest.approx(bound, rel=1e-15)
    for theirs, mine in ((twin.weight, ours.params["kernel"]), (twin.bias, ours.params["bias"])):
        theirs = theirs.detach().numpy()
        assert theirs.size == mine.size
        assert np.abs(theirs).max() <= bound and np.abs(mine).max() <= bound
    # Many draws pin the bound on both sides: P(max|w| < (1 - 0.005) bound) =
    # 0.995^n < 1e-8 for n >= 3700.
    n = 4000
    big_ours = get_initializer("torch_default")((n,), ours.fans(), np.random.default_rng(2),
                                                np.float64)
    weights = torch.empty(n, fan_in, dtype=torch.float64)           # fan_in columns
    torch.nn.init.kaiming_uniform_(weights, a=math.sqrt(5))
    for sample in (big_ours, weights.numpy()[:, 0]):
        assert (1 - 0.005) * bound < np.abs(sample).max() <= bound
