"""minivae.layers.initializers: Keras's defaults, and shapes_only() builds that allocate
nothing (checkpoint.build_model checks a model description with one)."""

import threading

import numpy as np

from minivae.architectures import faces_vae
from minivae.layers import BatchNormalization, Conv2D, Conv2DTranspose, Dense
from minivae.layers.initializers import glorot_uniform, ones, shapes_only, zeros


def test_zeros_and_ones_are_numpys():
    for make, value in ((zeros, 0), (ones, 1)):
        x = make((3, 2), np.float32)
        assert x.dtype == np.float32 and x.flags.writeable
        np.testing.assert_array_equal(x, np.full((3, 2), value, np.float32))


def test_shapes_only_gives_every_layer_its_shapes_without_memory():
    layers = [(Dense(10 ** 6), (10 ** 5,)),              # 4e11 bytes, were it allocated
              (Conv2D(10 ** 4, 3), (8, 8, 10 ** 4)),
              (Conv2DTranspose(10 ** 4, 3), (8, 8, 10 ** 4)),
              (BatchNormalization(), (4, 10 ** 9))]
    with shapes_only():
        for layer, shape in layers:
            layer.build(shape, dtype="float64")
    for layer, _ in layers:
        for value in (*layer.params.values(), *layer.state.values()):
            assert value.dtype == np.float64 and not value.flags.writeable
            assert all(stride == 0 for stride in value.strides)
    assert layers[0][0].params["kernel"].shape == (10 ** 5, 10 ** 6)
    assert layers[2][0].params["kernel"].shape == (3, 3, 10 ** 4, 10 ** 4)
    assert layers[3][0].state["moving_variance"].shape == (10 ** 9,)


def test_a_dry_build_has_the_real_ones_names_shapes_and_counts():
    with shapes_only():
        dry = faces_vae(latent_dim=5, seed=0)
    real = faces_vae(latent_dim=5, seed=0)
    assert dry.count_params() == real.count_params() == 343_565
    for ours, theirs in ((dry.named_params(), real.named_params()),
                         (dry.named_state(), real.named_state())):
        assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}


def test_shapes_only_holds_in_its_own_context_only():
    """A context variable: a build in another thread at the same moment is a real one."""
    built = {}

    def elsewhere():
        built["kernel"] = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)

    with shapes_only():
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
        inside = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)
    after = glorot_uniform((3, 4), np.random.default_rng(0), np.float32)
    assert not inside.any() and inside.strides == (0, 0)
    np.testing.assert_array_equal(built["kernel"], after)
    assert after.flags.writeable and after.any()
