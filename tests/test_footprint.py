"""The memory a forward pass needs, estimated from the layer shapes before it runs."""

import tracemalloc

import numpy as np
import pytest

from minivae import fast
from minivae.architectures import fashion_vae
from minivae.errors import InputError
from minivae.layers import Conv2D, Conv2DTranspose, Dense, Flatten, Reshape
from minivae.layers.initializers import shapes_only
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.models.footprint import DEFAULT_BUDGET, check_budget, forward_bytes


def _peak(fn):
    """The most memory numpy held at once while fn ran (tracemalloc sees numpy's buffers:
    a count of bytes, not a timing)."""
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("part", ["encoder", "decoder"])
def test_the_estimate_is_near_what_a_pass_of_the_book_vae_allocates(part):
    """The estimate bounds the largest layer; the whole pass keeps a few more arrays
    alive (the previous layer's output, a cache), so the reference's measured peak lies
    within a small factor of it. The fast kernels may need less (the taps form of the
    decoder's last conv builds no im2col columns: 41 MB against an estimate of 146), never
    more. 100 images, float32."""
    model = fashion_vae(seed=0)
    z = np.random.default_rng(0).standard_normal((100, 2)).astype(np.float32)
    x = np.random.default_rng(0).uniform(size=(100, 32, 32, 1)).astype(np.float32)
    run = (lambda: model.encoder.encode(x, training=False)) if part == "encoder" else \
        (lambda: model.decoder.forward(z, training=False))
    estimate = forward_bytes(getattr(model, part), 100)
    with fast.reference():
        run()                                       # first-use allocations out of the way
        measured = _peak(run)
    assert estimate / 3 <= measured <= 3 * estimate, (measured, estimate)
    run()
    assert _peak(run) <= 3 * estimate, estimate


def _stride_3000_vae():
    """A legal model of few parameters whose decoder writes 3000 x 3000 images."""
    encoder = GaussianEncoder([Conv2D(1, 3, strides=3000, padding="same"), Flatten()], 2)
    decoder = Sequential([Dense(1), Reshape((1, 1, 1)),
                          Conv2DTranspose(1, 3, strides=3000, padding="same",
                                          activation="sigmoid")])
    with shapes_only():
        return VAE(encoder, decoder).build((3000, 3000, 1))


def test_a_small_checkpoint_asking_for_gigabytes_is_refused_before_it_runs():
    """Issue 22: a 9 KB checkpoint (a stride-3000 transposed convolution) reached 4.5 GB
    on `sample -n 1`. Its estimate says so before anything is allocated."""
    model = _stride_3000_vae()
    assert model.count_params() < 100
    assert forward_bytes(model.decoder, 1) > 9e6 * 4          # its output alone, float32
    with pytest.raises(InputError, match=r"a forward pass of 30 example\(s\) through this "
                                         r"model needs about [\d.]+ GiB .* more than the "
                                         r"budget of 2.00 GiB; .* --memory-budget"):
        check_budget(model, 30)
    assert check_budget(model, 1, budget=10 * 1024 ** 3) > 0
    assert check_budget(fashion_vae(seed=0), 100) < DEFAULT_BUDGET / 10
    # a tiny budget is said in a unit that shows it (it read "0.0 MiB")
    with pytest.raises(InputError, match=r"needs about [\d.]+ MiB .* the budget of 100 bytes;"):
        check_budget(fashion_vae(seed=0), 1, budget=100)
    with pytest.raises(InputError, match=r"the budget of 1.5 KiB;"):
        check_budget(fashion_vae(seed=0), 1, budget=1536)
