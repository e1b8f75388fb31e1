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
from minivae.layers import (BatchNormalization, Conv2D, Conv2DTranspose, Dense, Dropout, Flatten,
                            LeakyReLU, Reshape)
from minivae.models import VAE, Autoencoder, GaussianEncoder, Sequential
from minivae.torch_bridge import layouts, padding as torch_padding

# float64 on both sides: the same products summed in other orders (im2col GEMMs against
# torch's convolution kernels), ~1e-16 per operation, through up to ~25 layers of sums of
# up to ~10^4 terms: measured up to 1.5e-14 (the faces VAE's gradients) and 3e-15
# elsewhere. 1e-12 leaves room; a misplaced tap, permutation or crop errs by order 1.
F64_RTOL = 1e-12
# float32: every value rounded to 6e-8 and sums of up to ~10^4 terms formed in other
# orders: measured up to 1e-6 for outputs and losses, 5.6e-6 for gradients (the faces
# VAE's, through five BatchNormalizations). 1e-5 and 1e-4 leave room: a ReLU input within
# rounding of 0 may take the other branch on one side and move its layer's gradient
# (the inputs here have none), while a translation error is of order 1.
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
    (p, _), (op, _), crop = torch_padding.transpose_geometry(layer, "test")
    assert 0 <= op < s
    extra = 0 if crop is None else -crop[3]
    assert (5 - 1) * s - 2 * p + k + op - extra == out_h


def test_minivae_never_imports_torch_or_the_bridge_at_its_top():
    """PyTorch is imported inside the bridge's functions only, and nothing else in
    minivae imports the bridge: the import graph stays one way."""
    import ast
    from pathlib import Path
    import minivae
    root = Path(minivae.__file__).parent
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        inside = path.parent.name == "torch_bridge"
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert inside or "torch_bridge" not in name, f"{path} imports {name}"
                if name.split(".")[0] == "torch":
                    assert inside and node not in tree.body, f"{path} imports torch at the top"


def test_the_ports_minivae_side_starts_from_the_weights_it_is_given(tmp_path):
    """examples/torch_mlp_vae.py --init trains the checkpoint's weights, not fresh draws."""
    import importlib.util
    from pathlib import Path
    from minivae import checkpoint
    path = Path(__file__).parent.parent / "examples" / "torch_mlp_vae.py"
    spec = importlib.util.spec_from_file_location("torch_mlp_vae", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    start = example.initial_model(None, 5, initializer="torch_default")
    checkpoint.save(tmp_path / "init.npz", start)
    again = example.initial_model(str(tmp_path / "init.npz"), 0)
    for a, b in zip(start.get_weights(), again.get_weights(), strict=True):
        assert np.array_equal(a, b)
    conv = example.initial_model(None, 0, kind="conv", input_shape=(28, 28, 1))
    assert conv.encoder.body[0].padding == (1, 1)


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

CONV_GRID = [(cls, k, s, padding, None, hw) for cls in (Conv2D, Conv2DTranspose)
             for padding in ("valid", "same") for k in (1, 2, 3, 4) for s in (1, 2, 3)
             for hw in ((7, 7), (8, 8), (5, 9))]
CONV_GRID += [(cls, (2, 3), (1, 2), p, None, (6, 7)) for cls in (Conv2D, Conv2DTranspose)
              for p in ("valid", "same")]
# PyTorch's integer padding, and the transposed layer's output_padding (with an integer
# padding PyTorch's, with a word Keras's), on odd and even sizes
CONV_GRID += [(Conv2D, k, s, p, None, hw)
              for k, s, p in ((3, 1, 1), (3, 2, 1), (4, 2, 1), (3, 2, 0), (5, 3, 2),
                              ((3, 5), (2, 1), (1, 2)))
              for hw in ((7, 7), (8, 8))]
CONV_GRID += [(Conv2DTranspose, k, s, p, op, hw)
              for k, s, p, op in ((3, 2, 1, 1), (4, 2, 1, None), (3, 1, 1, None), (5, 3, 2, 2),
                                  (3, 2, 0, 1), (2, 3, 0, 1), (3, 2, "same", 1),
                                  (3, 2, "valid", 1), ((3, 5), (2, 1), (1, 2), (1, 0)))
              for hw in ((4, 4), (5, 3))]


# torch notes that padding='same' with an even kernel copies the input padded: so it does
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("cls, k, s, padding, output_padding, hw", CONV_GRID,
                         ids=[f"{c.__name__}-k{k}-s{s}-{p}-op{op}-{h[0]}x{h[1]}"
                              for c, k, s, p, op, h in CONV_GRID])
def test_convolutions_match_torch_and_come_back(torch, cls, k, s, padding, output_padding, hw):
    """Output, input gradient and weight gradients equal torch's (float64) for the twin
    to_torch makes (with its ZeroPad2d or crop), and from_torch reads the twin back as
    the same layer."""
    rng = np.random.default_rng(0)
    extra = {} if output_padding is None else {"output_padding": output_padding}
    ours = cls(4, k, strides=s, padding=padding, **extra)
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
    if cls is Conv2DTranspose and (back.padding, back.output_padding) != \
            (ours.padding, ours.output_padding):
        # two of Keras's settings that crop alike ('valid' and 'same' with k = s, 'same'
        # with and without output_padding 1 at k = 3, s = 2): one PyTorch module
        assert back.output_shape == ours.output_shape
        assert torch_padding.transpose_crops(back) == torch_padding.transpose_crops(ours)
        back.padding, back.output_padding = ours.padding, ours.output_padding
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
                                                "Unflatten", "ConvTranspose2d", "ZeroPad2d"]
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
    # PyTorch's padding=1 is minivae's integer padding, output_padding none
    assert ours.layers[0].padding == (1, 1) and ours.layers[-1].padding == (1, 1)
    assert ours.layers[-1].output_padding is None
    assert ours.layers[4].get_config()["kernel_initializer"]["class_name"] == "TorchDefault"
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


# ------------------------------------------------------------------ models --

def mlp_vae(dtype, images=False, seed=0):
    """The 784-400-20 MLP VAE of pytorch/examples in minivae: on flat (784,) data, or
    on (28, 28, 1) images with a Flatten in front and a Reshape behind."""
    body = ([Flatten()] if images else []) + [Dense(400, activation="relu")]
    decoder = [Dense(400, activation="relu"), Dense(784)] + \
        ([Reshape((28, 28, 1))] if images else [])
    model = VAE(GaussianEncoder(body, 20), Sequential(decoder, name="decoder"),
                reconstruction_weight=784.0, output_activation="sigmoid",
                rng=np.random.default_rng(seed))
    return model.build((28, 28, 1) if images else (784,), dtype=dtype)


def stride2_vae(dtype):
    """pytorch_conv_vae (below) built in minivae, with PyTorch's integer padding."""
    body = [Conv2D(32, 3, strides=2, padding=1, activation="relu"),
            Conv2D(64, 3, strides=2, padding=1, activation="relu"), Flatten()]
    decoder = [Dense(64 * 7 * 7, activation="relu"), Reshape((7, 7, 64)),
               Conv2DTranspose(32, 3, strides=2, padding=1, output_padding=1,
                               activation="relu"),
               Conv2DTranspose(1, 3, strides=2, padding=1, output_padding=1,
                               activation="sigmoid")]
    model = VAE(GaussianEncoder(body, 16), Sequential(decoder, name="decoder"),
                reconstruction_weight=784.0, rng=np.random.default_rng(0))
    return model.build((28, 28, 1), dtype=dtype)


MODELS = {"fashion_vae": lambda dtype: architectures.fashion_vae(seed=0, dtype=dtype),
          "faces_vae": lambda dtype: architectures.faces_vae(latent_dim=16, seed=0, dtype=dtype),
          "mlp_vae": mlp_vae,
          "mlp_vae_images": lambda dtype: mlp_vae(dtype, images=True),
          "stride2_vae": stride2_vae}
FROM_TORCH = ["example_vae", "conv_vae", "pytorch_conv_vae"]


def minivae_source(name, dtype):
    """The model built by minivae, with non-zero biases and statistics, so that a
    misplaced bias or a swapped statistic shows."""
    model = MODELS[name](dtype)
    rng = np.random.default_rng(4)
    for layer in layouts.leaves(model.encoder.layers + model.decoder.layers):
        for key, value in {**layer.params, **layer.state}.items():
            if key != "kernel":
                value += rng.uniform(0.0, 0.2, value.shape).astype(value.dtype)
    return model


def fed_to_batch_norm(model):
    """Names of the biases whose layer feeds a BatchNormalization."""
    names = set()
    for part in (model.encoder, model.decoder):
        for layer, after in zip(part.layers, part.layers[1:]):
            if isinstance(after, BatchNormalization) and "bias" in layer.params:
                names.add(f"{layer.name}/bias")
    return names


def bce_sum(torch, x, images):
    """pytorch/examples' reconstruction term: BCE summed over the pixels (and the batch)."""
    return torch.nn.functional.binary_cross_entropy(images, x, reduction="sum")


def kl_sum(torch, mu, logvar):
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def as_minivae(torch, parts, rebuild, attr):
    """The torch parts' parameters, or their gradients (attr="grad"), in minivae's
    layouts and names: copies of the parts holding them, read by the bridge."""
    copies = copy.deepcopy(parts)
    if attr == "grad":
        with torch.no_grad():
            for part, twin in zip(parts, copies):
                for p, q in zip(part.parameters(), twin.parameters()):
                    q.copy_(p.grad if p.grad is not None else torch.zeros_like(p))
    return rebuild(*copies).named_params()


def compare(torch, ours, parts, rebuild, losses_of, dtype, logits, seed=3):
    """Every error between a minivae VAE and the torch parts (body, z_mean, z_log_var,
    decoder) computing the same function: z_mean, z_log_var and the images in
    inference; the losses (losses_of(x, decoder output, mu, logvar) -> the three in
    minivae's convention) with eps held fixed, every gradient and the moving statistics
    after one step. logits: the decoder part ends before the output sigmoid."""
    body, z_mean_t, z_log_var_t, decoder = parts
    rng = np.random.default_rng(seed)
    batch = 4
    x = rng.random((batch, *ours.input_shape)).astype(dtype)
    eps = rng.standard_normal((batch, ours.latent_dim)).astype(dtype)
    z = rng.standard_normal((batch, ours.latent_dim)).astype(dtype)
    x_t = t(torch, layouts.images_to_torch(x))
    errors = {}
    for part in parts:
        part.eval()
    with torch.no_grad():
        h = body(x_t)
        mu, logvar = z_mean_t(h), z_log_var_t(h)
        images = layouts.images_from_torch(n(decoder(t(torch, z))))
    z_mean, z_log_var = ours.encode(x)
    errors["z_mean"], errors["z_log_var"] = rel_err(z_mean, n(mu)), rel_err(z_log_var, n(logvar))
    errors["images"] = rel_err(ours.decode(z, logits=logits), images)

    for part in parts:
        part.train()
        part.zero_grad()
    state = {k: v.copy() for k, v in ours.named_state().items()}
    metrics = ours.forward_backward(x, eps=eps)
    h = body(x_t)
    mu, logvar = z_mean_t(h), z_log_var_t(h)
    out = decoder(mu + torch.exp(0.5 * logvar) * t(torch, eps))
    found = losses_of(x_t, out, mu, logvar)
    found[0].backward()
    for key, value in zip(("total_loss", "reconstruction_loss", "kl_loss"), found):
        errors[key] = rel_err(metrics[key], float(value.detach()))

    grads, theirs = ours.named_grads(), as_minivae(torch, parts, rebuild, "grad")
    assert sorted(theirs) == sorted(grads)
    noise = fed_to_batch_norm(ours)
    errors["gradients"], errors["pre-BN bias noise"] = 0.0, 0.0
    for key, g in grads.items():
        if key in noise:
            scale = np.abs(grads[key.replace("bias", "kernel")]).max()
            err = max(np.abs(g).max(), np.abs(theirs[key]).max()) / scale
            errors["pre-BN bias noise"] = max(errors["pre-BN bias noise"], float(err))
        else:
            errors["gradients"] = max(errors["gradients"], rel_err(g, theirs[key]))
    # moving statistics: torch's running_var takes the unbiased batch variance
    # (m / (m - 1) times minivae's); rebuilt through the bridge, then made biased
    after = rebuild(*parts)
    errors["moving statistics"] = 0.0
    for key, value in ours.named_state().items():
        theirs = after.named_state()[key]
        if key.endswith("moving_variance"):
            layer = key.split("/")[0]
            shape = (ours.encoder.layers + ours.decoder.layers)
            found_layer = next(lay for lay in shape if lay.name == layer)
            m = batch * int(np.prod(found_layer.input_shape[:-1]))
            momentum = found_layer.momentum
            new_term = (theirs - momentum * state[key]) * (m - 1) / m
            theirs = momentum * state[key] + new_term
        errors["moving statistics"] = max(errors["moving statistics"], rel_err(value, theirs))
    return errors


def minivae_losses(torch, model):
    """minivae's loss in torch, from the decoder's logits: w * mean_n mean_p (BCE or squared
    error) + beta KL."""
    F = torch.nn.functional

    def losses_of(x, logits, mu, logvar):
        if model.reconstruction_loss == "bce":
            ell = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
        else:
            ell = torch.square(torch.sigmoid(logits) - x)
        rec = model.reconstruction_weight * ell.flatten(1).mean(1).mean()
        kl = kl_sum(torch, mu, logvar) / len(x)
        return rec + model.beta * kl, rec, kl
    return losses_of


def to_torch_errors(torch, name, dtype):
    """minivae -> PyTorch: the architecture's twin, its loss written from the logits,
    and the twin's own losses() beside it."""
    ours = minivae_source(name, dtype)
    vae = torch_bridge.to_torch(ours, seed=0)
    assert sum(p.numel() for p in vae.parameters()) + sum(
        b.numel() for key, b in vae.named_buffers() if "running" in key) == ours.count_params()
    parts = (vae.encoder.body, vae.encoder.z_mean, vae.encoder.z_log_var, vae.decoder[:-1])

    def rebuild(body, z_mean, z_log_var, decoder):
        return torch_bridge.vae_from_torch(body, z_mean, z_log_var, decoder,
                                           vae.input_shape, dtype=dtype)
    errors = compare(torch, ours, parts, rebuild, minivae_losses(torch, ours), dtype,
                     logits=True)
    rng = np.random.default_rng(3)
    x = rng.random((4, *ours.input_shape)).astype(dtype)
    eps = rng.standard_normal((4, ours.latent_dim)).astype(dtype)
    own = vae.losses(t(torch, layouts.images_to_torch(x)), t(torch, eps))
    errors["to_torch VAE loss"] = rel_err(ours.forward_backward(x, eps=eps)["total_loss"],
                                          float(own["total_loss"].detach()))
    return errors


# ------------------------------------------------- the models written in torch --

def example_vae(torch):
    """pytorch/examples' VAE (vae/main.py), its structure written out: fc1 784 -> 400,
    heads fc21 and fc22 400 -> 20, fc3 20 -> 400, fc4 400 -> 784, ReLU, a sigmoid out."""
    nn, F = torch.nn, torch.nn.functional

    class ExampleVAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 400)
            self.fc21, self.fc22 = nn.Linear(400, 20), nn.Linear(400, 20)
            self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    return ExampleVAE()


def torch_conv_vae(torch):
    """A convolutional VAE as a PyTorch user writes one for 28x28x1 images: padding=1 at
    stride 1, TensorFlow's 'same' at stride 2 as a ZeroPad2d, BatchNorm2d and
    BatchNorm1d, LeakyReLU, stride-2 transposed convolutions with kernel 4 and padding 1
    (DCGAN's), a Linear from and to 16-channel features."""
    nn = torch.nn
    body = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.LeakyReLU(0.2),
                         nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(8, 16, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(16 * 14 * 14, 32),
                         nn.BatchNorm1d(32), nn.ReLU())
    heads = nn.Linear(32, 4), nn.Linear(32, 4)
    decoder = nn.Sequential(nn.Linear(4, 16 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (16, 7, 7)),
                            nn.ConvTranspose2d(16, 8, 4, stride=2, padding=1),
                            nn.BatchNorm2d(8), nn.ReLU(),
                            nn.ConvTranspose2d(8, 1, 4, stride=2, padding=1), nn.Sigmoid())
    return body, *heads, decoder


def pytorch_conv_vae(torch, latent_dim=16):
    """The convolutional VAE PyTorch code writes for 28x28x1 images: stride-2 3x3
    convolutions with padding=1 (28 -> 14 -> 7), and back with ConvTranspose2d(padding=1,
    output_padding=1), which TensorFlow's 'same' cannot say (it pads 0 and 1)."""
    nn = torch.nn
    body = nn.Sequential(nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
                         nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten())
    heads = nn.Linear(64 * 7 * 7, latent_dim), nn.Linear(64 * 7 * 7, latent_dim)
    decoder = nn.Sequential(
        nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
        nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
        nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())
    return body, *heads, decoder


def perturb(torch, modules, seed=5):
    """Non-zero biases and statistics, as minivae_source makes them."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in modules:
            for key, tensor in module.state_dict().items():
                if tensor.dtype.is_floating_point and tensor.ndim == 1:
                    tensor += 0.2 * torch.rand(tensor.shape, generator=generator,
                                               dtype=tensor.dtype)


def from_torch_errors(torch, name, dtype):
    """PyTorch -> minivae: the model written in torch, with torch's initialisation."""
    torch.manual_seed(0)
    torch_dtype = {"float64": torch.float64, "float32": torch.float32}[dtype]
    if name == "example_vae":
        example = example_vae(torch).to(torch_dtype)
        parts = (nn_seq(torch, example.fc1, torch.nn.ReLU()), example.fc21, example.fc22,
                 nn_seq(torch, example.fc3, torch.nn.ReLU(), example.fc4, torch.nn.Sigmoid()))
        input_shape, weight = (784,), 784.0

        def losses_of(x, images, mu, logvar):       # the example's loss_function, per image
            bce, kl = bce_sum(torch, x, images) / len(x), kl_sum(torch, mu, logvar) / len(x)
            return bce + kl, bce, kl
    else:
        build = torch_conv_vae if name == "conv_vae" else pytorch_conv_vae
        parts = tuple(part.to(torch_dtype) for part in build(torch))
        input_shape, weight = (1, 28, 28), 784.0

        def losses_of(x, images, mu, logvar):
            bce = bce_sum(torch, x, images) / len(x)
            kl = kl_sum(torch, mu, logvar) / len(x)
            return bce + kl, bce, kl
    perturb(torch, parts)

    def rebuild(body, z_mean, z_log_var, decoder):
        return torch_bridge.vae_from_torch(body, z_mean, z_log_var, decoder, input_shape,
                                           reconstruction_weight=weight)
    ours = rebuild(*parts)
    assert ours.dtype == np.dtype(dtype)
    return compare(torch, ours, parts, rebuild, losses_of, dtype, logits=False)


def nn_seq(torch, *modules):
    return torch.nn.Sequential(*modules)


def assert_close(errors, dtype):
    rtol, grad_rtol = (F64_RTOL, F64_RTOL) if dtype == "float64" else (F32_RTOL, F32_GRAD_RTOL)
    for key, err in errors.items():
        limit = {"gradients": grad_rtol, "pre-BN bias noise": NOISE[dtype]}.get(key, rtol)
        assert err < limit, (key, err, limit)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_to_torch_computes_what_minivae_computes(torch, name, dtype):
    """Outputs, the three losses (and to_torch's VAE.losses), every gradient and the
    moving statistics after one step."""
    assert_close(to_torch_errors(torch, name, dtype), dtype)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("name", FROM_TORCH)
def test_from_torch_computes_what_torch_computes(torch, name, dtype):
    """The same comparisons, from the model written in PyTorch with PyTorch's weights
    and the loss as pytorch/examples writes it (sums, divided by the batch here)."""
    assert_close(from_torch_errors(torch, name, dtype), dtype)



# ----------------------------------------------------------- the round trip --

def assert_same_model(a, b):
    """Same class, config, dtype and weights (bitwise), and the same images."""
    assert type(a) is type(b)
    assert a.get_config() == b.get_config()
    assert a.input_shape == b.input_shape and a.dtype == b.dtype
    for x, y in zip(a.get_weights(), b.get_weights(), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x, y)
    z = np.random.default_rng(6).standard_normal((3, a.latent_dim)).astype(a.dtype)
    assert np.array_equal(a.decode(z), b.decode(z))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(MODELS) + ["keras_io_vae", "fashion_autoencoder"])
def test_minivae_to_torch_and_back_is_exact(torch, name, dtype):
    if name in MODELS:
        ours = minivae_source(name, dtype)
    else:
        ours = getattr(architectures, name)(seed=0, dtype=dtype)
    theirs = torch_bridge.to_torch(ours)
    assert isinstance(theirs, torch_bridge.torch_classes()[type(ours).__name__])
    assert_same_model(ours, torch_bridge.from_torch(theirs))


@pytest.mark.parametrize("build", ["torch_conv_vae", "pytorch_conv_vae"])
def test_torch_to_minivae_and_back_keeps_every_number(torch, build):
    parts = globals()[build](torch)
    perturb(torch, parts)
    ours = torch_bridge.vae_from_torch(*parts, (1, 28, 28), reconstruction_weight=784.0)
    theirs = torch_bridge.to_torch(ours)
    before = [v for part in parts for v in part.state_dict().values() if v.is_floating_point()]
    after = [v for part in (theirs.encoder.body, theirs.encoder.z_mean, theirs.encoder.z_log_var,
                            theirs.decoder)
             for v in part.state_dict().values() if v.is_floating_point()]
    assert len(before) == len(after) and all(torch.equal(a, b) for a, b in zip(before, after))


def test_nested_sequential_dropout_and_leaky_slopes_translate(torch):
    """A block as a nested Sequential, Dropout, a standalone LeakyReLU, fused ones with
    Keras's function slope (0.2) and another, an autoencoder on flat data."""
    block = Sequential([Conv2D(4, 3, strides=2, padding="same"), BatchNormalization(),
                        LeakyReLU(0.1)], name="block")
    body = [block, Dropout(0.25), Flatten(),
            Dense(8, activation={"class_name": "LeakyReLU", "negative_slope": 0.05})]
    decoder = Sequential([Dense(4 * 4 * 4, activation="leaky_relu"), Reshape((4, 4, 4)),
                          Conv2DTranspose(1, 3, strides=2, padding="same",
                                          activation="sigmoid")], name="decoder")
    ours = VAE(GaussianEncoder(body, 2), decoder, reconstruction_weight=64.0, beta=0.5,
               rng=np.random.default_rng(0))
    ours.build((8, 8, 1), rng=np.random.default_rng(1))
    theirs = torch_bridge.to_torch(ours)
    assert isinstance(theirs.encoder.body.block, torch.nn.Sequential)
    assert (theirs.beta, theirs.reconstruction_weight) == (0.5, 64.0)
    assert_same_model(ours, torch_bridge.from_torch(theirs))
    x = np.random.default_rng(9).random((5, 8, 8, 1)).astype("float32")
    z_mean_t = theirs.eval().encode(t(torch, layouts.images_to_torch(x)))[0]
    assert rel_err(ours.encode(x)[0], n(z_mean_t)) < F32_RTOL

    flat = Autoencoder(Sequential([Dense(16, activation="relu"), Dense(3)]),
                       Sequential([Dense(16, activation="relu"), Dense(10)]),
                       output_activation="sigmoid", rng=np.random.default_rng(2))
    flat.build((10,))
    back = torch_bridge.from_torch(torch_bridge.to_torch(flat))
    assert_same_model(flat, back)


# ------------------------------------------------------------------ refusals --

def refused(torch, module, input_shape=(2, 6, 6)):
    with pytest.raises(InputError) as info:
        torch_bridge.from_torch(torch.nn.Sequential(module), input_shape)
    return str(info.value)


def test_from_torch_refuses_what_it_cannot_translate_naming_the_module(torch):
    nn = torch.nn
    assert "module '0' (MaxPool2d) has no minivae twin" in refused(torch, nn.MaxPool2d(2))
    assert "(Conv2d) has dilation=(2, 2)" in refused(torch, nn.Conv2d(2, 2, 3, dilation=2))
    assert "(Conv2d) has groups=2" in refused(torch, nn.Conv2d(2, 2, 3, groups=2))
    assert "(Conv2d) has padding_mode='reflect'" in refused(
        torch, nn.Conv2d(2, 2, 3, padding=1, padding_mode="reflect"))
    assert "(Conv2d) has bias=False" in refused(torch, nn.Conv2d(2, 2, 3, bias=False))
    assert "(Linear) has bias=False" in refused(torch, nn.Linear(72, 2, bias=False), (72,))
    assert "(ConvTranspose2d) has bias=False" in refused(
        torch, nn.ConvTranspose2d(2, 2, 3, bias=False))
    assert "(Conv2d) reads 3 channels" in refused(torch, nn.Conv2d(3, 2, 3))
    assert "(Tanh) has no minivae twin" in refused(torch, nn.Tanh())
    assert "(BatchNorm2d) has momentum=None" in refused(torch, nn.BatchNorm2d(2, momentum=None))
    assert "(BatchNorm2d) has affine=False" in refused(torch, nn.BatchNorm2d(2, affine=False))
    assert "(Flatten) flattens dims 2 to -1" in refused(torch, nn.Flatten(2))
    assert "(ZeroPad2d) pads outside a convolution" in refused(torch, nn.ZeroPad2d(1))
    assert "(Conv2d) pads (0, 2) rows" in refused(
        torch, nn.Sequential(nn.ZeroPad2d((0, 2, 0, 2)), nn.Conv2d(2, 2, 3, stride=2)))
    with pytest.raises(InputError, match="the head z_mean must be an nn.Linear, got Conv2d"):
        torch_bridge.vae_from_torch(nn.Identity(), nn.Conv2d(1, 1, 1), nn.Linear(4, 2),
                                    nn.Linear(2, 4), (4,))
    with pytest.raises(InputError, match="give input_shape"):
        torch_bridge.from_torch(nn.Linear(3, 2))


def test_to_torch_refuses_an_unbuilt_model_and_a_layer_of_ones_own(torch):
    with pytest.raises(InputError, match="never built"):
        torch_bridge.to_torch(VAE(GaussianEncoder([Flatten()], 2), Sequential([Dense(4)])))

    class Swish(LeakyReLU):
        pass

    ours = VAE(GaussianEncoder([Flatten(), Swish(name="swish")], 2),
               Sequential([Dense(4), Reshape((2, 2, 1))])).build((2, 2, 1))
    with pytest.raises(TypeError, match="'swish' \\(Swish\\) has no PyTorch twin"):
        torch_bridge.to_torch(ours)


def test_torch_sampling_is_the_reparameterisation_and_a_seed_repeats_it(torch):
    ours = mlp_vae("float64")
    x = t(torch, np.random.default_rng(7).random((4, 784)))
    first = torch_bridge.to_torch(ours, seed=0).losses(x)["total_loss"]
    again = torch_bridge.to_torch(ours, seed=0).losses(x)["total_loss"]
    assert float(first.detach()) == float(again.detach())
    vae = torch_bridge.to_torch(ours, seed=1)
    z_mean = torch.full((20_000, 2), 3.0, dtype=torch.float64)
    z_log_var = torch.log(torch.tensor([[0.25, 4.0]], dtype=torch.float64)).repeat(20_000, 1)
    eps = n((vae.sample(z_mean, z_log_var) - z_mean) / torch.exp(0.5 * z_log_var))
    # 20,000 standard normal draws: the mean is within 4 standard errors (0.028) of 0
    assert np.all(np.abs(eps.mean(axis=0)) < 0.03)
    assert np.all(np.abs(eps.std(axis=0) - 1) < 0.03)


# ------------------------------------------------------ training in PyTorch --

@pytest.mark.parametrize("name", ["mlp_vae_images", "stride2_vae"])
def test_training_steps_in_lockstep_give_the_same_losses(torch, name):
    """Same start, batches and noise: minivae's Adam on its loss (a mean over the batch)
    and torch's on pytorch/examples' (a sum over the batch, N times minivae's) give the
    same losses step after step, in float64. Adam's step does not change when the
    gradient is scaled, but for its epsilon, which both sides set to 1e-12 here, far
    below sqrt(v); they add it in other places (torch to sqrt(v_hat), minivae as Keras
    to sqrt(v) before the bias correction). Adam also divides by sqrt(v), so an entry
    whose gradient is near 0 takes a step of up to the learning rate on either side
    whatever its rounding: measured up to 7e-10 (MLP) and 1.4e-7 (convolutions) in 10
    steps, hence 1e-6; a wrong gradient or conversion errs by 1e-3 at least. (With the
    two sides' default epsilons, 1e-8 on the summed loss and on the mean, the losses
    part by up to 1e-5 in 10 steps: the epsilons weigh differently.)"""
    from minivae.datasets import load_sample
    from minivae.optimizers import Adam
    x_all = load_sample(pad=False)[0].astype("float64")
    ours = MODELS[name]("float64")
    theirs = torch_bridge.to_torch(ours)
    ours.compile(Adam(learning_rate=1e-3, epsilon=1e-12))
    adam = torch.optim.Adam(theirs.parameters(), lr=1e-3, eps=1e-12)
    rng = np.random.default_rng(10)
    for _ in range(10):
        x = x_all[rng.choice(len(x_all), 64, replace=False)]
        eps = rng.standard_normal((64, ours.latent_dim))
        loss = ours.forward_backward(x, eps=eps)["total_loss"]
        ours.optimizer.apply_gradients(ours.named_params(), ours.named_grads())
        adam.zero_grad()
        x_t = t(torch, layouts.images_to_torch(x))
        images, mu, logvar = theirs(x_t, t(torch, eps))
        loss_t = bce_sum(torch, x_t, images) + kl_sum(torch, mu, logvar)     # the example's
        loss_t.backward()
        adam.step()
        assert rel_err(loss, float(loss_t.detach()) / 64) < 1e-6


def test_train_on_in_torch_and_bring_the_weights_back(torch):
    """The road of docs/torch_port.md: minivae fit -> PyTorch steps -> minivae fit."""
    from minivae.datasets import load_sample
    from minivae.optimizers import Adam
    x = load_sample(pad=False)[0][:512]
    ours = mlp_vae("float32", images=True)
    ours.compile(Adam(learning_rate=1e-3))
    ours.fit(x[:256], epochs=1, batch_size=128, verbose=0)
    theirs = torch_bridge.to_torch(ours, seed=0)
    x_t = t(torch, layouts.images_to_torch(x))            # float images in [0, 1]
    adam = torch.optim.Adam(theirs.parameters(), lr=1e-3)
    before = float(theirs.losses(x_t)["total_loss"].detach())
    for _ in range(2):
        for i in range(0, len(x_t), 128):
            adam.zero_grad()
            theirs.losses(x_t[i:i + 128])["total_loss"].backward()
            adam.step()
    after = float(theirs.losses(x_t)["total_loss"].detach())
    assert after < before
    back = torch_bridge.from_torch(theirs)
    z_mean_t = theirs.eval().encode(x_t[:64])[0]
    assert rel_err(back.encode(x[:64])[0], n(z_mean_t)) < F32_RTOL
    back.compile(Adam(learning_rate=1e-3)).fit(x[:128], batch_size=128, verbose=0)   # on


if __name__ == "__main__":     # the table of errors for the record
    import torch as torch_module
    torch_module.set_num_threads(1)
    for direction, run, names in (("minivae -> PyTorch", to_torch_errors, sorted(MODELS)),
                                  ("PyTorch -> minivae", from_torch_errors, FROM_TORCH)):
        for model_name in names:
            for precision in ("float64", "float32"):
                found = run(torch_module, model_name, precision)
                print(f"{direction:20s}{model_name:18s}{precision:9s}"
                      + "  ".join(f"{k} {v:.1e}" for k, v in found.items()))
