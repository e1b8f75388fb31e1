"""fit on data that does not sit in memory: Sequences and iterables of batches."""

import numpy as np
import pytest

from minivae.batching import Batches
from minivae.errors import InputError, InputTypeError
from minivae.optimizers import Adam
from tests.conftest import tiny_vae


def _images(n, seed=0):
    return np.random.default_rng(seed).uniform(0.05, 0.95, size=(n, 8, 8, 1))


class Pages:
    """A Keras-style Sequence: len() batches, pages[i] is batch i, made when asked."""

    def __init__(self, images, batch_size, pairs=False):
        self.images, self.batch_size, self.pairs = images, batch_size, pairs
        self.asked, self.epochs_ended = [], 0

    def __len__(self):
        return -(-len(self.images) // self.batch_size)

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)         # what np.shape's walk would hit, had it been asked
        self.asked.append(i)
        batch = self.images[i * self.batch_size:(i + 1) * self.batch_size].copy()
        return (batch, batch) if self.pairs else batch

    def on_epoch_end(self):
        self.epochs_ended += 1


def _fit(data, epochs=2, **kw):
    model = tiny_vae(seed=0, latent_dim=2).compile(Adam(learning_rate=1e-3))
    model.reseed(3)
    history = model.fit(data, epochs=epochs, batch_size=10, verbose=0, **kw)
    return model, history.history


def test_a_sequence_of_batches_trains_as_the_same_batches_in_memory():
    """Issue 21: a Sequence of 5 batches of 10 went to np.shape, which grew the process to
    24 GB. It now trains batch by batch, and unshuffled it reads the very batches an
    array would give, so the histories agree to the last bit."""
    x = _images(50)
    pages = Pages(x, 10)
    model, from_pages = _fit(pages, shuffle=False)
    _, from_array = _fit(x, shuffle=False)
    assert from_pages == from_array
    assert pages.asked == list(range(5)) * 2 and pages.epochs_ended == 2


def test_a_sequence_is_visited_in_a_fresh_order_each_epoch():
    pages = Pages(_images(50), 10, pairs=True)          # (x, y) pairs: x is used
    _fit(pages, epochs=3)
    orders = [pages.asked[i:i + 5] for i in (0, 5, 10)]
    assert all(sorted(order) == list(range(5)) for order in orders)
    assert len({tuple(order) for order in orders}) > 1      # seed 3: three different orders


class Stream:
    """An iterable of batches that starts over each time it is iterated."""

    def __init__(self, batches):
        self.batches = batches

    def __iter__(self):
        return iter(self.batches)


def test_iterables_of_batches_and_a_sequence_for_validation():
    x = _images(40)
    batches = [x[i:i + 10] for i in range(0, 40, 10)]
    _, history = _fit(Stream(batches), validation_data=Pages(_images(20, 1), 10))
    assert len(history["total_loss"]) == 2 and len(history["val_total_loss"]) == 2
    _, once = _fit((b for b in batches), epochs=1)
    assert len(once["total_loss"]) == 1


def test_a_generator_is_refused_for_more_than_one_epoch_before_training():
    model = tiny_vae().compile(Adam())
    before = {k: v.copy() for k, v in model.named_params().items()}
    with pytest.raises(InputError, match=r"VAE.fit: x is an iterator, which can be read once, "
                                         r"and fit runs 2 epochs"):
        model.fit((b for b in [_images(10)]), epochs=2, verbose=0)
    for k, v in model.named_params().items():
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("data, message", [
    ({"x": 1}, r"x must be images .* got dict"),
    ("images.npy", r"x must be images .* got str"),
    (7, r"x must be images .* got int"),
    (object(), r"x must be images .* got object"),
])
def test_a_type_fit_does_not_take_is_refused_at_once(data, message):
    with pytest.raises(InputTypeError, match=message):
        tiny_vae().compile(Adam()).fit(data, verbose=0)


def test_a_bad_batch_is_named():
    class Broken(Pages):
        def __getitem__(self, i):
            return "not an array" if i == 2 else super().__getitem__(i)

    with pytest.raises(InputTypeError, match=r"x\[2\] must be an array of images"):
        _fit(Broken(_images(50), 10), shuffle=False)
    wrong = Pages(np.zeros((20, 4, 4, 1)), 10)
    with pytest.raises(InputError, match=r"x\[0\] must have shape \(N, 8, 8, 1\)"):
        _fit(wrong, shuffle=False)
    with pytest.raises(InputError, match="x gave no batch"):
        _fit(Stream([]), epochs=1)


def test_batches_count_themselves():
    assert Batches(np.zeros((25, 2)), 10, "t").steps() == 3
    assert Batches(Pages(np.zeros((25, 2)), 10), 10, "t").steps() == 3
    assert Batches(iter([np.zeros((1, 2))]), 10, "t").steps() is None


def test_progress_of_an_iterable_of_unknown_length(capsys):
    """Without a length there is no bar or ETA: the line counts batches, and the epoch's
    summary counts the batches it read."""
    x = _images(30)
    model = tiny_vae(seed=0).compile(Adam())
    model.fit(Stream([x[:10], x[10:20], x[20:]]), epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "\n3/3 - " in "\n" + out.split("Epoch 1/1\n")[1]


def test_evaluate_and_validation_take_streamed_data_on_a_model_not_built():
    """Review: Model.evaluate handed a Sequence to np.asarray (the process grew until it
    was killed), and fit checked array validation_data against the input shape of a
    model a Sequence had not built yet."""
    x = _images(40)
    model = tiny_vae(seed=0)
    model.reseed(1)                     # test_step samples z: the same draws for both
    streamed = model.evaluate(Pages(x, 10))
    model.reseed(1)
    # the same batches and draws, in the same order: equal but for nothing, 1e-12 allowed
    assert streamed == pytest.approx(model.evaluate(x, batch_size=10), rel=1e-12)
    from minivae.models import VAE, GaussianEncoder
    from minivae.layers import Flatten
    fresh = VAE(GaussianEncoder([Flatten()], 2), tiny_vae().decoder).compile(Adam())
    history = fresh.fit(Pages(x, 10), validation_data=x[:20], epochs=1, verbose=0)
    assert fresh.built and "val_total_loss" in history.history
