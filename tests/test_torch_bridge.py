"""minivae.torch_bridge against the real PyTorch: layouts, to_torch, from_torch, round trips.

    /work/venv-torch/bin/python -m pytest -q tests/test_torch_bridge.py
    /work/venv-torch/bin/python -m tests.test_torch_bridge       (prints the error table)

The layout tests need only numpy; everything else needs torch and skips cleanly
without it. Models both ways:

  minivae -> PyTorch   an architecture built by minivae, to_torch, and torch's autograd
                       run on the twin;
  PyTorch -> minivae   the model written in PyTorch as its authors would (nn.Sequential,
                       Linear heads; pytorch/examples' VAE), vae_from_torch, and
                       minivae's hand-written backward run on the result.

Each compares z_mean, z_log_var and the images, the three losses (eps held fixed) and
every parameter's gradient, in float64 and float32, with the error
max|a - b| / max(max|a|, max|b|) (minivae.gradcheck.relative_error).
"""

import copy
import sys

import numpy as np
import pytest

from minivae import architectures, torch_bridge
from minivae.errors import InputError
from minivae.gradcheck import relative_error as rel_err
from minivae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout,
                            Flatten, LeakyReLU, Reshape, Sequential)
from minivae.models import VAE, Autoencoder, GaussianEncoder
from minivae.torch_bridge import layouts

# float64 on both sides: the same products summed in other orders (im2col GEMMs against
# torch's convolution kernels), ~1e-16 per operation, through at most ~25 layers of sums
# of up to ~10^4 terms: measured up to 1e-14 (faces VAE) and 3e-15 elsewhere. 1e-12
# leaves room; a misplaced tap, permutation or crop shows errors of order 1.
F64_RTOL = 1e-12
# float32: every value rounded to 6e-8, sums of up to ~10^4 terms formed in other
# orders through up to ~25 layers: measured up to 1e-6 for outputs and losses and
# 3e-6 for gradients; 1e-5 and 1e-4 leave room (the gradients of a layer near a
# ReLU kink can move more: see KINKS below), while a translation error is of order 1.
F32_RTOL, F32_GRAD_RTOL = 1e-5, 1e-4
# A bias that feeds BatchNormalization has a true gradient of 0 (the batch mean takes it
# out): both sides return rounding noise, checked to be noise relative to its kernel's.
NOISE = {"float64": 1e-11, "float32": 1e-4}


# ------------------------------------------------------------ layouts (numpy) --

def test_chw_order_is_pytorchs_flatten_of_the_nchw_image():
    x = np.arange(2 * 3 * 4 * 5).reshape(2, 3, 4, 5).astype(float)        # (N, H, W, C)
    torch_flat = layouts.images_to_torch(x).reshape(2, -1)                  # NCHW, flattened
    assert np.array_equal(x.reshape(2, -1)[:, layouts.chw_order((3, 4, 5))], torch_flat)
    assert np.array_equal(layouts.chw_order((3, 4, 1)), np.arange(12))     # one channel


def test_dense_weights_move_with_their_orders_and_back():
    rng = np.random.default_rng(0)
    kernel, bias = rng.standard_normal((12, 6)), rng.standard_normal(6)
    in_order, out_order = rng.permutation(12), rng.permutation(6)
    weight, b = layouts.dense_to_torch(kernel, bias, in_order, out_order)
    x = rng.standard_normal((3, 12))
    # the Linear on features in in_order gives the Dense's outputs in out_order
    assert np.allclose((x[:, in_order] @ weight.T + b), (x @ kernel + bias)[:, out_order])
    back = layouts.dense_from_torch(weight, b, in_order, out_order)
    assert np.array_equal(back[0], kernel) and np.array_equal(back[1], bias)
    conv = rng.standard_normal((3, 2, 4, 5))
    assert np.array_equal(layouts.kernel_from_torch(layouts.kernel_to_torch(conv)), conv)


def test_flat_orders_of_the_books_vae():
    """Flatten of (4, 4, 128) leaves channels-first features, which the heads read; the
    decoder's first Dense writes in the order its Reshape to (4, 4, 128) needs."""
    model = architectures.fashion_vae(seed=0)
    orders = layouts.model_orders(model, "test")
    flatten = model.encoder.body[-1]
    assert orders[id(flatten)][0] is None           # an image in
    assert np.array_equal(orders[id(flatten)][1], layouts.chw_order((4, 4, 128)))
    assert np.array_equal(orders[id(model.encoder.z_mean)][0], layouts.chw_order((4, 4, 128)))
    dense, reshape = model.decoder.layers[:2]
    assert np.array_equal(orders[id(dense)][0], np.arange(2))       # z as it is
    assert np.array_equal(orders[id(dense)][1], layouts.chw_order((4, 4, 128)))
    assert np.array_equal(orders[id(reshape)][0], orders[id(dense)][1])


def test_flat_orders_pass_through_featurewise_layers_and_refuse_two_orders():
    chain = Sequential([Flatten(), Dropout(0.1), BatchNormalization(), LeakyReLU(0.1),
                        Dense(4)])
    chain.build((2, 3, 5))
    orders = layouts.flat_orders(chain.layers, (2, 3, 5), "test")
    for layer in chain.layers[1:]:
        assert np.array_equal(orders[id(layer)][0], layouts.chw_order((2, 3, 5)))
    clash = Sequential([Flatten(name="flat"), Reshape((5, 3, 2), name="back")])
    clash.build((2, 3, 5))
    with pytest.raises(InputError, match="'back' \\(Reshape\\) and layer 'flat' \\(Flatten\\) "
                                         "see the same flat features in two different"):
        layouts.flat_orders(clash.layers, (2, 3, 5), "test")
    ok = Sequential([Flatten(), Reshape((2, 3, 5))])        # the same image back: fine
    ok.build((2, 3, 5))
    layouts.flat_orders(ok.layers, (2, 3, 5), "test")


@pytest.mark.parametrize("padding", ["valid", "same"])
@pytest.mark.parametrize("k, s", [(1, 1), (1, 2), (2, 2), (3, 1), (3, 2), (4, 2), (5, 2), (2, 3),
                                  (4, 3), (5, 3)])
def test_transpose_geometry_gives_the_output_size(k, s, padding):
    """PyTorch's size rule (n - 1) s - 2 p + k + output_padding, less the crop after it,
    is the layer's output size, for every kernel and stride here."""
    layer = Conv2DTranspose(2, k, strides=s, padding=padding)
    out_h = layer.build((5, 6, 3))[0]
    (p, _), (op, _), crop = layouts.transpose_geometry(layer, "test")
    assert 0 <= op < s
    extra = 0 if crop is None else -crop[3]
    assert (5 - 1) * s - 2 * p + k + op - extra == out_h


# ------------------------------------------------------------------ PyTorch --

def test_without_torch_the_bridge_names_the_missing_package(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` now fails
    model = architectures.keras_io_vae(seed=0)
    for call in (lambda: torch_bridge.to_torch(model),
                 lambda: torch_bridge.from_torch(object()),
                 lambda: torch_bridge.vae_from_torch(None, None, None, None, (1, 28, 28))):
        with pytest.raises(ImportError, match="needs the package 'torch'"):
            call()


@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(1)        # 2 cores shared; the tests' tensors are small
    return torch


def t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def n(tensor):
    return tensor.detach().numpy()


def torch_modules(twin, torch):
    """The convolution and Linear modules of a twin, in order."""
    kinds = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)
    return [m for m in twin.modules() if isinstance(m, kinds)]


# --------------------------------------------------------------- one layer --

CONV_GRID = [(cls, k, s, padding, hw) for cls in (Conv2D, Conv2DTranspose)
             for padding in ("valid", "same") for k in (1, 2, 3, 4) for s in (1, 2, 3)
             for hw in ((7, 7), (8, 8), (5, 9))]
CONV_GRID += [(cls, (2, 3), (1, 2), p, (6, 7)) for cls in (Conv2D, Conv2DTranspose)
              for p in ("valid", "same")]


@pytest.mark.parametrize("cls, k, s, padding, hw", CONV_GRID,
                         ids=[f"{c.__name__}-k{k}-s{s}-{p}-{h[0]}x{h[1]}"
                              for c, k, s, p, h in CONV_GRID])
def test_convolutions_match_torch_and_come_back(torch, cls, k, s, padding, hw):
    """Output, input gradient and weight gradients equal torch's (float64) for the twin
    to_torch makes (with its ZeroPad2d or crop), and from_torch reads the twin back as
    the same layer."""
    rng = np.random.default_rng(0)
    ours = cls(4, k, strides=s, padding=padding)
    out_shape = ours.build((*hw, 3), rng=rng, dtype="float64")
    ours.params["bias"][:] = rng.standard_normal(4)
    twin = torch_bridge.to_torch(ours)
    x = rng.standard_normal((2, *hw, 3))
    dy = rng.standard_normal((2, *out_shape))
    x_t = t(torch, layouts.images_to_torch(x)).requires_grad_()
    y_t = twin(x_t)
    (y_t * t(torch, layouts.images_to_torch(dy))).sum().backward()
    (conv,) = torch_modules(twin, torch)
    assert rel_err(ours.forward(x), layouts.images_from_torch(n(y_t))) < F64_RTOL
    assert rel_err(ours.backward(dy), layouts.images_from_torch(n(x_t.grad))) < F64_RTOL
    assert rel_err(ours.grads["kernel"], layouts.kernel_from_torch(n(conv.weight.grad))) \
        < F64_RTOL
    assert rel_err(ours.grads["bias"], n(conv.bias.grad)) < F64_RTOL
    (back,) = torch_bridge.from_torch(twin, (3, *hw)).layers
    if back.padding != ours.padding:        # 'valid' and 'same' agree here: k = s, say
        assert cls is Conv2DTranspose and back.output_shape == ours.output_shape
        assert layouts.transpose_crops(back) == layouts.transpose_crops(ours)
        back.padding = ours.padding
    assert {**back.get_config(), "name": None} == ours.get_config()     # a lone layer's name
    assert all(np.array_equal(a, b) for a, b in zip(back.get_weights(), ours.get_weights()))


def test_a_dense_after_flatten_reads_torchs_channels_first_features(torch):
    """Flatten of an NHWC image and of an NCHW one list the same numbers in two orders:
    the Linear's columns are permuted so that the function is the same, and a Linear
    feeding Unflatten has its rows permuted. A wrong order fails by order 1."""
    rng = np.random.default_rng(1)
    ours = Sequential([Conv2D(3, 2, activation="relu"), Flatten(), Dense(7),
                       Dense(2 * 3 * 5), Reshape((2, 3, 5)), Conv2DTranspose(2, 2)])
    ours.build((4, 5, 2), rng=rng, dtype="float64")
    twin = torch_bridge.to_torch(ours)
    assert [type(m).__name__ for m in twin] == ["Conv2d", "ReLU", "Flatten", "Linear", "Linear",
                                                "Unflatten", "ConvTranspose2d"]
    x = rng.standard_normal((3, 4, 5, 2))
    y = twin(t(torch, layouts.images_to_torch(x)))
    assert rel_err(ours.forward(x), layouts.images_from_torch(n(y))) < F64_RTOL
    # the Dense with its unpermuted kernel would compute something else
    linear = twin[3]
    with torch.no_grad():
        linear.weight.copy_(t(torch, ours.layers[2].params["kernel"].T))
    assert rel_err(ours.forward(x), layouts.images_from_torch(
        n(twin(t(torch, layouts.images_to_torch(x)))))) > 0.1


def test_a_torch_chain_comes_over_with_its_order(torch):
    """The other way: PyTorch's Conv2d, Flatten, Linear, Unflatten, ConvTranspose2d with
    torch's own initialisation, read by from_torch, compute what PyTorch computes."""
    nn = torch.nn
    torch.manual_seed(0)
    chain = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1), nn.BatchNorm2d(3, momentum=0.2),
                          nn.LeakyReLU(0.1), nn.Flatten(), nn.Linear(3 * 4 * 5, 6),
                          nn.BatchNorm1d(6), nn.Dropout(0.5), nn.ReLU(),
                          nn.Linear(6, 3 * 2 * 2), nn.Unflatten(1, (3, 2, 2)),
                          nn.ConvTranspose2d(3, 2, 4, stride=2, padding=1), nn.Sigmoid()).double()
    with torch.no_grad():
        for bn in (chain[1], chain[5]):
            bn.running_mean.uniform_(-1, 1), bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 2), bn.bias.uniform_(-1, 1)
    chain.eval()
    ours = torch_bridge.from_torch(chain, (2, 4, 5))
    assert [type(layer).__name__ for layer in ours.layers] == [
        "Conv2D", "BatchNormalization", "LeakyReLU", "Flatten", "Dense", "BatchNormalization",
        "Dropout", "ReLU", "Dense", "Reshape", "Conv2DTranspose"]
    assert ours.layers[0].padding == "same" and ours.layers[-1].padding == "same"
    assert type(ours.layers[-1].activation).__name__ == "Sigmoid"     # fused
    assert ours.layers[1].momentum == pytest.approx(0.8) and ours.layers[1].epsilon == 1e-5
    x = np.random.default_rng(2).standard_normal((3, 4, 5, 2))
    y = chain(t(torch, layouts.images_to_torch(x)))
    assert rel_err(ours.forward(x, training=False), layouts.images_from_torch(n(y))) < F64_RTOL
    # and back to torch, the same numbers in the same places
    again = torch_bridge.to_torch(ours)
    for a, b in zip(chain.state_dict().values(), again.state_dict().values()):
        if a.dtype.is_floating_point:
            assert torch.equal(a, b)


def test_batch_normalization_steps_as_torchs_with_its_variance_convention(torch):
    """momentum = 1 - torch's; the moving mean follows torch's exactly, the moving
    variance once torch's unbiased batch variance is made biased (m / (m - 1))."""
    rng = np.random.default_rng(3)
    for shape, m in (((4, 5, 3), 2 * 4 * 5), ((6,), 2)):
        ours = BatchNormalization(momentum=0.9, epsilon=1e-3)
        ours.build(shape, rng=rng, dtype="float64")
        for key in ("gamma", "beta", "moving_mean"):
            ours.params.get(key, ours.state.get(key))[:] = rng.uniform(0.5, 1.5, shape[-1])
        twin = torch_bridge.to_torch(ours)
        assert (twin.momentum, twin.eps) == (pytest.approx(0.1), 1e-3)
        old = {k: v.copy() for k, v in ours.state.items()}
        x = rng.standard_normal((2, *shape))
        dy = rng.standard_normal(x.shape)
        x_t = t(torch, layouts.images_to_torch(x)).requires_grad_()
        y_t = twin.train()(x_t)
        (y_t * t(torch, layouts.images_to_torch(dy))).sum().backward()
        assert rel_err(ours.forward(x), layouts.images_from_torch(n(y_t))) < F64_RTOL
        assert rel_err(ours.backward(dy), layouts.images_from_torch(n(x_t.grad))) < F64_RTOL
        assert rel_err(ours.grads["gamma"], n(twin.weight.grad)) < F64_RTOL
        assert rel_err(ours.state["moving_mean"], n(twin.running_mean)) < F64_RTOL
        new_term = (n(twin.running_var) - 0.9 * old["moving_variance"]) * (m - 1) / m
        assert rel_err(ours.state["moving_variance"], 0.9 * old["moving_variance"] + new_term) \
            < F64_RTOL
