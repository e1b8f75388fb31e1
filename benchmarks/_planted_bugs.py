"""The corpus of bench_gradcheck.py: forward passes, their right backward passes,
and realistic bugs planted in those backward passes. NumPy only, so that every
checker's venv (torch's, jax's) imports it as it is.

Each maker `name(rng, bug=None)` returns (f, vjp, inputs) or (f, vjp, inputs, extra):

    f(*inputs) -> array            the forward pass
    vjp(dy, *inputs) -> tuple      the backward pass, right when bug is None
    inputs                         arrays drawn from rng (shapes too): float64, or
                                   integer ids and labels, which no checker perturbs
    extra                          how a user checks this code with minivae:
                                   "layer" (a layer object, checked with check_layer
                                   on "layer_inputs" with "options"), "global_seed"
                                   (f draws from numpy's global random state, which
                                   the user re-seeds for every checker)

A bug is a key the maker knows; its backward then carries that one mistake.
Stateful bugs (a buffer that accumulates, noise redrawn in backward) keep their
state in the closure, fresh for every call of the maker.
"""

import numpy as np


def float_inputs(f, vjp, inputs):
    """(f, vjp, inputs) over the float inputs alone, the integer ones closed over: how
    torch's and jax's checkers, which differentiate every argument, take such code."""
    floats = [i for i, x in enumerate(inputs) if np.asarray(x).dtype.kind == "f"]
    if len(floats) == len(inputs):
        return f, vjp, inputs

    def full(args):
        values = list(inputs)
        for i, a in zip(floats, args):
            values[i] = a
        return values

    def f_floats(*args):
        return f(*full(args))

    def vjp_floats(dy, *args):
        grads = vjp(dy, *full(args))
        return tuple(grads[i] for i in floats)
    return f_floats, vjp_floats, [inputs[i] for i in floats]


def reseeded(f, seed):
    """f with numpy's global random state re-seeded before every call."""
    def g(*args):
        np.random.seed(seed)
        return f(*args)
    return g


def _pick(rng, options):
    return options[int(rng.integers(len(options)))]


# -- dense ----------------------------------------------------------------------

def dense(rng, bug=None):
    n, d, k = _pick(rng, [2, 3, 4]), int(rng.integers(3, 7)), int(rng.integers(2, 6))
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, k)), rng.standard_normal(k)
    state = {"dW": np.zeros((d, k))}

    def f(x, W, b):
        return x @ W + b

    def vjp(dy, x, W, b):
        dx, dW, db = dy @ W.T, x.T @ dy, dy.sum(axis=0)
        if bug == "bias_first_row":
            db = dy[0].copy()
        elif bug == "reshape_not_transpose":
            dW = (dy.T @ x).reshape(W.shape)
        elif bug == "one_entry_1e-4":
            dW = dW.copy()
            dW[0, 0] *= 1 + 1e-4
        elif bug == "accumulates":
            state["dW"] += dW
            dW = state["dW"]
        return dx, dW, db
    return f, vjp, (x, W, b)


def weight_decay(rng, bug=None):
    """L(W) = sum((x @ W) * t) / n + lam/2 |W|^2 on raw 0..255 pixels, a third of
    them always 0 (as at Fashion-MNIST's borders): there the gradient is lam W alone."""
    n, d, k, lam = 8, int(rng.integers(6, 12)), int(rng.integers(2, 5)), 5e-4
    x = rng.integers(0, 256, size=(n, d)).astype(np.float64)
    x[:, rng.permutation(d)[:d // 3]] = 0.0
    t, W = rng.standard_normal((n, k)), 0.05 * rng.standard_normal((d, k))

    def f(W):
        return np.sum((x @ W) * t) / n + 0.5 * lam * np.sum(W * W)

    def vjp(dy, W):
        decay = 2 * lam * W if bug == "decay_twice" else lam * W
        return (dy * (x.T @ t / n + decay),)
    return f, vjp, (W,)


# -- convolution (NHWC, TensorFlow's 'same' padding: the odd pixel after) ---------

def _geometry(n, k, s, padding):
    if padding == "valid":
        return (n - k) // s + 1, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def _taps(k, s, out):
    return [(i, slice(i, i + s * (out - 1) + 1, s)) for i in range(k)]


def conv2d(rng, bug=None):
    n, c, F = _pick(rng, [2, 3]), int(rng.integers(1, 4)), int(rng.integers(2, 4))
    k, s, padding = _pick(rng, [2, 3]), _pick(rng, [1, 2]), _pick(rng, ["same", "valid"])
    H, W_ = int(rng.integers(k + 1, 8)), int(rng.integers(k + 1, 8))
    if bug == "crop_wrong_side":        # only an odd total padding is asymmetric
        k, s, padding, H, W_ = 3, 2, "same", 2 * int(rng.integers(2, 4)), 2 * int(rng.integers(2, 4))
    if bug == "stride_ignored":
        s = 2
    if bug == "kernel_flipped":
        k = 3
    x = rng.standard_normal((n, H, W_, c))
    kernel, b = rng.standard_normal((k, k, c, F)) / k, rng.standard_normal(F)
    Ho, pt, pb = _geometry(H, k, s, padding)
    Wo, pl, pr = _geometry(W_, k, s, padding)

    def f(x, kernel, b):
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        y = np.zeros((x.shape[0], Ho, Wo, F)) + b
        for i, rows in _taps(k, s, Ho):
            for j, cols in _taps(k, s, Wo):
                y += xp[:, rows, cols, :] @ kernel[i, j]
        return y

    def vjp(dy, x, kernel, b):
        xp = np.pad(x, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        dxp, dK = np.zeros_like(xp), np.zeros_like(kernel)
        for i, rows in _taps(k, s, Ho):
            for j, cols in _taps(k, s, Wo):
                patch = xp[:, rows, cols, :]
                if bug == "batch_sum_missing":
                    dK[i, j] = patch[0].reshape(-1, c).T @ dy[0].reshape(-1, F)
                else:
                    dK[i, j] = patch.reshape(-1, c).T @ dy.reshape(-1, F)
                Wt = kernel[k - 1 - i, k - 1 - j] if bug == "kernel_flipped" else kernel[i, j]
                if bug == "stride_ignored":
                    dxp[:, i:i + Ho, j:j + Wo, :] += dy @ Wt.T
                else:
                    dxp[:, rows, cols, :] += dy @ Wt.T
        if bug == "crop_wrong_side":
            dx = dxp[:, pb:pb + H, pr:pr + W_, :]
        else:
            dx = dxp[:, pt:pt + H, pl:pl + W_, :]
        db = dy.mean(axis=(0, 1, 2)) if bug == "bias_mean" else dy.sum(axis=(0, 1, 2))
        if bug == "kernel_layout":
            dK = np.transpose(dK, (3, 2, 0, 1)).reshape(kernel.shape)
        return dx, dK, db
    return f, vjp, (x, kernel, b)


def conv2d_transpose(rng, bug=None):
    """Keras's Conv2DTranspose, 'same', kernel (k, k, out, in): the adjoint of a
    stride-s convolution whose output is the (H, W) input here."""
    n, cin, cout = _pick(rng, [2, 3]), int(rng.integers(1, 4)), int(rng.integers(1, 4))
    k, s = 3, _pick(rng, [1, 2])
    if bug in ("crop_wrong_side", ):
        s = 2                           # k - s odd: the padding is asymmetric
    if bug == "kernel_in_out_swapped":
        cout = cin = max(cin, 2)
    H, W_ = int(rng.integers(2, 5)), int(rng.integers(2, 5))
    Hs, Ws = H * s, W_ * s
    _, pt, pb = _geometry(Hs, k, s, "same")
    _, pl, pr = _geometry(Ws, k, s, "same")
    x = rng.standard_normal((n, H, W_, cin))
    kernel, b = rng.standard_normal((k, k, cout, cin)) / k, rng.standard_normal(cout)

    def f(x, kernel, b):
        yp = np.zeros((x.shape[0], Hs + pt + pb, Ws + pl + pr, cout))
        for i, rows in _taps(k, s, H):
            for j, cols in _taps(k, s, W_):
                yp[:, rows, cols, :] += x @ kernel[i, j].T
        return yp[:, pt:pt + Hs, pl:pl + Ws, :] + b

    def vjp(dy, x, kernel, b):
        if bug == "crop_wrong_side":
            dyp = np.pad(dy, ((0, 0), (pb, pt), (pr, pl), (0, 0)))
        else:
            dyp = np.pad(dy, ((0, 0), (pt, pb), (pl, pr), (0, 0)))
        dx, dK = np.zeros_like(x), np.zeros_like(kernel)
        for i, rows in _taps(k, s, H):
            for j, cols in _taps(k, s, W_):
                patch = dyp[:, rows, cols, :]
                Wt = kernel[k - 1 - i, k - 1 - j] if bug == "kernel_flipped" else kernel[i, j]
                dx += patch @ Wt
                grad = patch.reshape(-1, cout).T @ x.reshape(-1, cin)
                dK[i, j] = grad.T if bug == "kernel_in_out_swapped" else grad
        return dx, dK, dy.sum(axis=(0, 1, 2))
    return f, vjp, (x, kernel, b)


# -- activations ------------------------------------------------------------------

def _elementwise(fwd, grad, buggy):
    def maker(rng, bug=None):
        x = rng.standard_normal((int(rng.integers(2, 5)), int(rng.integers(3, 8))))
        g = buggy.get(bug, grad)
        return fwd, (lambda dy, x: (dy * g(x),)), (x,)
    return maker


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


sigmoid = _elementwise(_sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
                       {"derivative_of_input": lambda x: x * (1 - x)})
tanh = _elementwise(np.tanh, lambda x: 1 - np.tanh(x) ** 2,
                    {"derivative_of_input": lambda x: 1 - x ** 2})
leaky_relu = _elementwise(lambda x: np.where(x > 0, x, 0.2 * x),
                          lambda x: np.where(x > 0, 1.0, 0.2),
                          {"slope_dropped": lambda x: np.where(x > 0, 1.0, 0.0)})
softplus = _elementwise(lambda x: np.logaddexp(0, x), _sigmoid,
                        {"sign_flipped": lambda x: _sigmoid(-x)})
elu = _elementwise(lambda x: np.where(x > 0, x, 0.5 * np.expm1(np.minimum(x, 0))),
                   lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(np.minimum(x, 0))),
                   {"alpha_dropped": lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))})


def relu_exact_zeros(rng, bug=None):
    """ReLU at inputs that are exactly 0 (a quarter of them, at least two)."""
    x = rng.standard_normal((int(rng.integers(2, 5)), 6))
    x.reshape(-1)[rng.permutation(x.size)[:max(2, x.size // 4)]] = 0.0
    return (lambda x: np.maximum(x, 0)), (lambda dy, x: (dy * (x > 0),)), (x,)


# -- the VAE's sampling and KL ----------------------------------------------------

def sampling(rng, bug=None):
    n, d = _pick(rng, [2, 3, 4]), _pick(rng, [2, 3, 5])
    mu, log_var, eps = rng.standard_normal((n, d)), rng.standard_normal((n, d)), \
        rng.standard_normal((n, d))
    noise = np.random.default_rng(int(rng.integers(2**31)))

    def f(mu, log_var):
        return mu + np.exp(0.5 * log_var) * eps

    def vjp(dy, mu, log_var):
        sigma = np.exp(0.5 * log_var)
        if bug == "half_missing":
            return dy, dy * sigma * eps
        if bug == "eps_missing":
            return dy, dy * 0.5 * sigma
        if bug == "eps_redrawn":
            return dy, dy * 0.5 * sigma * noise.standard_normal(eps.shape)
        return dy, dy * 0.5 * sigma * eps
    return f, vjp, (mu, log_var)


def kl(rng, bug=None):
    n, d = _pick(rng, [2, 3, 4]), _pick(rng, [2, 3, 5])
    mu, log_var = rng.standard_normal((n, d)), rng.standard_normal((n, d))

    def f(mu, log_var):
        return np.mean(np.sum(-0.5 * (1 + log_var - mu ** 2 - np.exp(log_var)), axis=1))

    def vjp(dy, mu, log_var):
        m = 1.0 if bug == "batch_mean_missing" else 1.0 / len(mu)
        d_lv = -0.5 * (1 - np.exp(log_var))
        if bug == "log_var_sign":
            d_lv = -d_lv
        return dy * m * mu, dy * m * d_lv
    return f, vjp, (mu, log_var)


# -- normalisation ----------------------------------------------------------------

def batchnorm(rng, bug=None):
    """Training-mode batch normalisation over the batch axis, Keras's eps = 1e-3."""
    n, c, eps = int(rng.integers(3, 7)), int(rng.integers(2, 5)), 1e-3
    x = rng.standard_normal((n, c)) * rng.uniform(0.5, 2, c) + rng.standard_normal(c)
    gamma, beta = rng.standard_normal(c), rng.standard_normal(c)

    def f(x, gamma, beta):
        mu, var = x.mean(axis=0), x.var(axis=0)
        return gamma * (x - mu) / np.sqrt(var + eps) + beta

    def vjp(dy, x, gamma, beta):
        mu, var = x.mean(axis=0), x.var(axis=0)
        inv = 1 / np.sqrt(var + (0.0 if bug == "eps_dropped" else eps))
        xhat = (x - mu) * inv
        dxhat = dy * gamma
        if bug == "statistics_constant":
            dx = dxhat * inv
        else:
            m = n - 1 if bug == "unbiased_n" else n
            dx = inv / m * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
        return dx, (dy * xhat).sum(axis=0), dy.sum(axis=0)
    return f, vjp, (x, gamma, beta)


# -- softmax ----------------------------------------------------------------------

def _softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax(rng, bug=None):
    x = rng.standard_normal((int(rng.integers(2, 5)), int(rng.integers(3, 7))))

    def vjp(dy, x):
        y = _softmax(x)
        if bug == "diagonal_only":
            return (y * dy,)
        axis = 0 if bug == "wrong_axis" else -1
        return (y * (dy - (dy * y).sum(axis=axis, keepdims=True)),)
    return _softmax, vjp, (x,)


def softmax_cross_entropy(rng, bug=None):
    n, k = int(rng.integers(2, 6)), int(rng.integers(3, 7))
    logits, labels = rng.standard_normal((n, k)), rng.integers(0, k, n)

    def f(logits):
        p = _softmax(logits)
        return -np.mean(np.log(p[np.arange(n), labels]))

    def vjp(dy, logits):
        g = _softmax(logits)
        g[np.arange(n), labels] -= 1
        return (dy * g if bug == "batch_mean_missing" else dy * g / n,)
    return f, vjp, (logits,)


# -- layouts and noise ------------------------------------------------------------

def flatten(rng, bug=None):
    n, h, w, c = 2, int(rng.integers(2, 4)), int(rng.integers(2, 4)), int(rng.integers(2, 4))
    x = rng.standard_normal((n, h, w, c))

    def vjp(dy, x):
        if bug == "channels_first":
            return (dy.reshape(n, c, h, w).transpose(0, 2, 3, 1),)
        return (dy.reshape(x.shape),)
    return (lambda x: x.reshape(len(x), -1)), vjp, (x,)


def dropout(rng, bug=None):
    """Inverted dropout with its mask fixed (a Generator reset before every forward),
    as a gradient check needs it."""
    x, keep, seed = rng.standard_normal((3, int(rng.integers(4, 9)))), 0.6, int(rng.integers(99))
    drifting = np.random.default_rng(seed)

    def mask(shape):
        return (np.random.default_rng(seed).random(shape) < keep) / keep

    def vjp(dy, x):
        if bug == "mask_redrawn":
            return (dy * (drifting.random(x.shape) < keep) / keep,)
        return (dy * mask(x.shape),)
    return (lambda x: x * mask(x.shape)), vjp, (x,)


def mse(rng, bug=None, batch=100):
    """Mean squared error over batch x 32 x 32 x 1 entries (the book's batch: 102,400)."""
    y = rng.uniform(0, 1, (batch, 32, 32, 1))
    t = rng.uniform(0, 1, y.shape)

    def vjp(dy, y):
        m = y.size - 1 if bug == "n_minus_1" else y.size
        return (dy * 2 * (y - t) / m,)
    return (lambda y: np.mean((y - t) ** 2)), vjp, (y,)


def mse_small(rng, bug=None):
    """The same loss over a batch of 10 (10,240 entries)."""
    return mse(rng, bug, batch=10)


# -- several inputs -----------------------------------------------------------------

def gaussian_nll(rng, bug=None):
    """0.5 (log_var + (y - mean)^2 / var) per entry: three inputs of one shape."""
    n, d = _pick(rng, [2, 3, 4]), _pick(rng, [2, 3, 5])
    y, mean, log_var = (rng.standard_normal((n, d)) for _ in range(3))

    def f(y, mean, log_var):
        return 0.5 * (log_var + (y - mean) ** 2 * np.exp(-log_var))

    def vjp(dy, y, mean, log_var):
        r = (y - mean) * np.exp(-log_var)
        d_y, d_mean, d_lv = dy * r, -dy * r, dy * 0.5 * (1 - (y - mean) * r)
        if bug == "outputs_swapped":
            return d_y, d_lv, d_mean                # dY, dLogVar, dMean
        return d_y, d_mean, d_lv
    return f, vjp, (y, mean, log_var)


def attention(rng, bug=None):
    """softmax(q k^T / sqrt(d)) v, d = 4: queries, keys and values."""
    n, m, d, e = int(rng.integers(2, 5)), int(rng.integers(2, 5)), 4, int(rng.integers(2, 4))
    q, k, v = rng.standard_normal((n, d)), rng.standard_normal((m, d)), rng.standard_normal((m, e))

    def f(q, k, v):
        return _softmax(q @ k.T / np.sqrt(d)) @ v

    def vjp(dy, q, k, v):
        p = _softmax(q @ k.T / np.sqrt(d))
        dp = dy @ v.T
        ds = p * (dp - (dp * p).sum(axis=1, keepdims=True))
        dq = ds @ k if bug == "scale_missing" else ds @ k / np.sqrt(d)
        return dq, ds.T @ q / np.sqrt(d), p.T @ dy
    return f, vjp, (q, k, v)


def rnn_cell(rng, bug=None):
    """h' = tanh(x Wx + h Wh + b): an Elman cell's step, five inputs."""
    n, d, k = _pick(rng, [2, 3]), int(rng.integers(2, 5)), int(rng.integers(2, 5))
    x, h = rng.standard_normal((n, d)), rng.standard_normal((n, k))
    Wx, Wh, b = rng.standard_normal((d, k)) / 2, rng.standard_normal((k, k)) / 2, \
        rng.standard_normal(k)

    def f(x, h, Wx, Wh, b):
        return np.tanh(x @ Wx + h @ Wh + b)

    def vjp(dy, x, h, Wx, Wh, b):
        pre = x @ Wx + h @ Wh + b
        slope = 1 - pre ** 2 if bug == "derivative_of_input" else 1 - np.tanh(pre) ** 2
        dpre = dy * slope
        dWh = dpre.T @ h if bug == "wh_transposed" else h.T @ dpre
        return dpre @ Wx.T, dpre @ Wh.T, x.T @ dpre, dWh, dpre.sum(axis=0)
    return f, vjp, (x, h, Wx, Wh, b)


# -- integer inputs -----------------------------------------------------------------

def embedding(rng, bug=None):
    """W[ids]: integer ids, one of them repeated."""
    V, d = int(rng.integers(5, 9)), int(rng.integers(2, 5))
    ids = rng.permutation(V)[:int(rng.integers(3, 5))]
    ids[-1] = ids[0]
    W = rng.standard_normal((V, d))

    def vjp(dy, ids, W):
        dW = np.zeros_like(W)
        if bug == "assign_not_add":
            dW[ids] = dy                            # the repeated id keeps one row of dy
        else:
            np.add.at(dW, ids, dy)
        return None, dW
    return (lambda ids, W: W[ids]), vjp, (ids, W)


def sampled_softmax(rng, bug=None):
    """Cross-entropy over a sample of the classes (the labels and a few others):
    hidden states h (n, d), class vectors W (K, d), integer labels and candidates."""
    n, d, K = int(rng.integers(2, 5)), int(rng.integers(2, 5)), int(rng.integers(8, 12))
    order = rng.permutation(K)
    labels, cand = order[:n], np.sort(order[:n + 3])
    target = np.searchsorted(cand, labels)
    h, W = rng.standard_normal((n, d)), rng.standard_normal((K, d))

    def f(h, W, labels, cand):
        p = _softmax(h @ W[cand].T)
        return -np.mean(np.log(p[np.arange(n), np.searchsorted(cand, labels)]))

    def vjp(dy, h, W, labels, cand):
        g = _softmax(h @ W[cand].T)
        hit = np.ones(n, bool)
        if bug == "one_class":
            hit[0] = False                  # the label term of the first example's class lost
        g[np.arange(n)[hit], target[hit]] -= 1
        g *= dy / n
        dW = np.zeros_like(W)
        np.add.at(dW, cand, g.T @ h)
        return g @ W[cand], dW, None, None
    return f, vjp, (h, W, labels, cand)


# -- masks and pooling --------------------------------------------------------------

def relu(rng, bug=None):
    x = rng.standard_normal((int(rng.integers(2, 5)), int(rng.integers(3, 8))))

    def vjp(dy, x):
        return (dy if bug == "mask_forgotten" else dy * (x > 0),)
    return (lambda x: np.maximum(x, 0)), vjp, (x,)


def max_pool(rng, bug=None):
    """3 x 3 max pooling, stride 2, PyTorch's padding 1 (with -inf), NHWC."""
    n, c = _pick(rng, [1, 2]), _pick(rng, [1, 2])
    H, W_ = int(rng.integers(4, 8)), int(rng.integers(4, 8))
    k, s, pad = 3, 2, 1
    x = rng.standard_normal((n, H, W_, c))
    Ho, Wo = (H + 2 * pad - k) // s + 1, (W_ + 2 * pad - k) // s + 1

    def windows(x):
        xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)), constant_values=-np.inf)
        return np.stack([xp[:, i:i + s * (Ho - 1) + 1:s, j:j + s * (Wo - 1) + 1:s]
                         for i in range(k) for j in range(k)], axis=-1)

    def vjp(dy, x):
        w = windows(x)
        dxp = np.zeros((n, H + 2 * pad, W_ + 2 * pad, c))
        N, I, J, C = np.indices(dy.shape)
        if bug == "mask_forgotten":             # every entry of the window gets dy
            for t in range(k * k):
                np.add.at(dxp, (N, s * I + t // k, s * J + t % k, C), dy)
        else:
            t = w.argmax(axis=-1)
            np.add.at(dxp, (N, s * I + t // k, s * J + t % k, C), dy)
        at = 0 if bug == "padding_shift" else pad       # the padding not taken off
        return (dxp[:, at:at + H, at:at + W_],)
    return (lambda x: windows(x).max(axis=-1)), vjp, (x,)


# -- numpy's global random state ----------------------------------------------------

def dropout_global(rng, bug=None):
    """Inverted dropout whose mask comes from np.random (numpy's global state), cached
    for backward. Checked as a user would after the advice: global state re-seeded
    before every call of f ("not_reseeded": the user did not, and f is no function)."""
    x, keep, cache = rng.standard_normal((3, int(rng.integers(4, 9)))), 0.6, {}

    def f(x):
        cache["mask"] = (np.random.rand(*x.shape) < keep) / keep
        return x * cache["mask"]

    def vjp(dy, x):
        if bug == "mask_redrawn":
            return (dy * (np.random.rand(*x.shape) < keep) / keep,)
        return (dy * cache["mask"],)
    return f, vjp, (x,), {"global_seed": bug != "not_reseeded"}


# -- layers in other libraries' conventions (numpy-ml's) -------------------------------

class _NumpyMLLayer:
    """numpy-ml's conventions: `parameters` and `gradients` dicts, gradients that
    accumulate (+=) until flushed, and every input since the last backward cached in
    a list that backward differentiates in turn."""

    def __init__(self, parameters, bug):
        self.parameters, self.bug, self.X = parameters, bug, []
        self.gradients = {k: np.zeros_like(v) for k, v in parameters.items()
                          if k in self.trainable}

    def backward(self, dy):
        dX = [self._backward(dy, X) for X in self.X]
        self.X = []
        return dX[0] if len(dX) == 1 else dX

    def as_function(self):
        """(f, vjp) over (x, *trainable), for checkers that take functions: the detour
        a user writes for torch's and jax's checkers."""
        names = self.trainable

        def load(args):
            for name, value in zip(names, args):
                self.parameters[name] = np.array(value, dtype=np.float64)

        def f(x, *params):
            load(params)
            self.X = []
            return self.forward(x)

        def vjp(dy, x, *params):
            f(x, *params)
            for g in self.gradients.values():
                g[...] = 0.0
            dx = self.backward(dy)
            return (dx, *[self.gradients[n].copy() for n in names])
        return f, vjp


class _BatchNorm1D(_NumpyMLLayer):
    trainable = ["scaler", "intercept"]

    def forward(self, X):
        self.X.append(X)
        P, m = self.parameters, 0.9
        mu, var = X.mean(axis=0), X.var(axis=0)
        P["running_mean"] = m * P["running_mean"] + (1 - m) * mu
        P["running_var"] = m * P["running_var"] + (1 - m) * var
        return P["scaler"] * (X - mu) / np.sqrt(var + 1e-5) + P["intercept"]

    def _backward(self, dy, X):
        n, P = len(X), self.parameters
        mu, var = (P["running_mean"], P["running_var"]) if self.bug == "running_stats" else \
            (X.mean(axis=0), X.var(axis=0))
        inv = 1 / np.sqrt(var + 1e-5)
        xhat = (X - mu) * inv
        self.gradients["scaler"] += (dy * xhat).sum(axis=0)
        self.gradients["intercept"] += dy.sum(axis=0)
        dxhat = dy * P["scaler"]
        return inv / n * (n * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))


class _Dense(_NumpyMLLayer):
    trainable = ["W", "b"]

    def forward(self, X):
        self.X.append(X)
        return X @ self.parameters["W"] + self.parameters["b"]

    def _backward(self, dy, X):
        self.gradients["W"] += X.T @ dy
        self.gradients["b"] += dy.mean(axis=0) if self.bug == "bias_mean" else dy.sum(axis=0)
        return dy @ self.parameters["W"].T


def _numpy_ml_case(cls, parameters, x, rng, bug):
    """(f, vjp, inputs, extra): the layer checked by check_layer, its function form by
    the others; one layer object each, so that neither sees the other's state."""
    layer = cls({k: v.copy() for k, v in parameters.items()}, bug)
    f, vjp = cls({k: v.copy() for k, v in parameters.items()}, bug).as_function()
    inputs = (x, *[parameters[n] for n in cls.trainable])
    # check_layer needs no option: the layer's zero gradients name what it trains.
    return f, vjp, inputs, {"layer": layer, "layer_inputs": (x,)}


def batchnorm_running(rng, bug=None):
    """numpy-ml's BatchNorm1D: running statistics among the parameters."""
    n, c = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    x = rng.standard_normal((n, c)) * rng.uniform(0.5, 2, c) + rng.standard_normal(c)
    parameters = {"scaler": rng.standard_normal(c), "intercept": rng.standard_normal(c),
                  "running_mean": np.zeros(c), "running_var": np.ones(c)}
    return _numpy_ml_case(_BatchNorm1D, parameters, x, rng, bug)


def dense_accumulating(rng, bug=None):
    """numpy-ml's FullyConnected (no activation): gradients accumulate across calls."""
    n, d, k = _pick(rng, [2, 3, 4]), int(rng.integers(3, 7)), int(rng.integers(2, 6))
    parameters = {"W": rng.standard_normal((d, k)), "b": rng.standard_normal(k)}
    return _numpy_ml_case(_Dense, parameters, rng.standard_normal((n, d)), rng, bug)



MAKERS = {name: m for name, m in [
    ("dense", dense), ("weight_decay", weight_decay), ("conv2d", conv2d),
    ("conv2d_transpose", conv2d_transpose), ("sigmoid", sigmoid), ("tanh", tanh),
    ("leaky_relu", leaky_relu), ("softplus", softplus), ("elu", elu),
    ("relu_exact_zeros", relu_exact_zeros), ("sampling", sampling), ("kl", kl),
    ("batchnorm", batchnorm), ("softmax", softmax),
    ("softmax_cross_entropy", softmax_cross_entropy), ("flatten", flatten),
    ("dropout", dropout), ("mse", mse), ("mse_small", mse_small),
    ("gaussian_nll", gaussian_nll), ("attention", attention), ("rnn_cell", rnn_cell),
    ("embedding", embedding), ("sampled_softmax", sampled_softmax), ("relu", relu),
    ("max_pool", max_pool), ("dropout_global", dropout_global),
    ("batchnorm_running", batchnorm_running), ("dense_accumulating", dense_accumulating)]}

# (family, maker, bug key, what the bug is, the hint kinds that name it). The rows of
# the table, in order. A hint of another kind is counted as misleading; an empty set:
# no hint names this bug, and any hint misleads.
BUGS = [
    ("dense", "dense", "bias_first_row", "bias gradient not summed over the batch", set()),
    ("dense", "dense", "one_entry_1e-4", "one kernel entry 1e-4 off (relative)", set()),
    ("dense", "dense", "accumulates", "kernel gradient accumulates across calls", {"accumulates"}),
    ("dense", "weight_decay", "decay_twice", "weight decay 2x, raw 0..255 inputs",
     {"ratio", "proportional"}),
    ("conv", "conv2d", "kernel_flipped", "dx with the kernel rotated 180 degrees", set()),
    ("conv", "conv2d", "crop_wrong_side", "dx cropped on the wrong side (odd padding)",
     {"shifted", "border", "index"}),
    ("conv", "conv2d", "batch_sum_missing", "dW from the first example only", set()),
    ("conv", "conv2d", "bias_mean", "bias gradient a mean, not a sum", {"ratio"}),
    ("conv", "conv2d", "stride_ignored", "dx scattered at stride 1", {"zero"}),
    ("conv transpose", "conv2d_transpose", "crop_wrong_side", "dy padded on the wrong side",
     {"shifted", "border", "index"}),
    ("conv transpose", "conv2d_transpose", "kernel_flipped", "dx with the kernel flipped", set()),
    ("activation", "sigmoid", "derivative_of_input", "sigmoid: s(1 - s) taken of x", set()),
    ("activation", "tanh", "derivative_of_input", "tanh: 1 - x^2 instead of 1 - y^2", set()),
    ("activation", "leaky_relu", "slope_dropped", "leaky ReLU: negative slope dropped", {"zero"}),
    ("activation", "softplus", "sign_flipped", "softplus: sigmoid(-x)", set()),
    ("activation", "elu", "alpha_dropped", "ELU: alpha dropped below 0", {"ratio"}),
    ("sampling", "sampling", "half_missing", "d log_var without the 0.5", {"ratio"}),
    ("sampling", "sampling", "eps_missing", "d log_var without eps", set()),
    ("sampling", "sampling", "eps_redrawn", "eps redrawn in backward", {"state"}),
    ("KL", "kl", "log_var_sign", "d log_var sign flipped", {"ratio"}),
    ("KL", "kl", "batch_mean_missing", "gradient of a batch sum, loss a mean", {"ratio"}),
    ("normalisation", "batchnorm", "eps_dropped", "backward without eps", set()),
    ("normalisation", "batchnorm", "statistics_constant", "mean and variance held constant", set()),
    ("normalisation", "batchnorm", "unbiased_n", "1/(n-1) where 1/n belongs", {"ratio"}),
    ("softmax", "softmax", "diagonal_only", "Jacobian diagonal only", set()),
    ("softmax", "softmax_cross_entropy", "batch_mean_missing", "cross-entropy without 1/n",
     {"ratio"}),
    ("layout", "softmax", "wrong_axis", "softmax backward summed over the batch axis", set()),
    ("layout", "dense", "reshape_not_transpose", "dW reshaped where transposed", {"layout"}),
    ("layout", "conv2d", "kernel_layout", "dW in (out, in, kh, kw) reshaped", {"layout"}),
    ("layout", "conv2d_transpose", "kernel_in_out_swapped", "kernel gradient (in, out)",
     {"layout"}),
    ("layout", "flatten", "channels_first", "Flatten backward in NCHW order", {"layout"}),
    ("noise", "dropout", "mask_redrawn", "dropout mask redrawn in backward", {"state"}),
    ("loss", "mse_small", "n_minus_1", "MSE over 10,240: 2(y - t)/(n - 1)", {"ratio"}),
    ("several inputs", "gaussian_nll", "outputs_swapped", "Gaussian NLL returns dY, dLogVar, dMean",
     {"swapped"}),
    ("several inputs", "attention", "scale_missing", "attention: dq without 1/sqrt(d)",
     {"ratio"}),
    ("recurrent", "rnn_cell", "wh_transposed", "RNN cell: dWh transposed", {"layout"}),
    ("recurrent", "rnn_cell", "derivative_of_input", "RNN cell: 1 - pre^2 for tanh'",
     set()),
    ("integer inputs", "embedding", "assign_not_add", "embedding: dW[ids] = dy (repeats lost)",
     {"index"}),
    ("integer inputs", "sampled_softmax", "one_class", "sampled softmax: one class's label "
     "term lost", {"index"}),
    ("mask", "relu", "mask_forgotten", "ReLU backward without its mask", {"flat"}),
    ("pooling", "max_pool", "padding_shift", "max pool: padding not taken off the scatter",
     {"shifted"}),
    ("pooling", "max_pool", "mask_forgotten", "max pool: dy to every entry of the window",
     {"flat"}),
    ("global RNG", "dropout_global", "mask_redrawn", "np.random dropout: mask redrawn in "
     "backward", {"mask"}),
    ("global RNG", "dropout_global", "not_reseeded", "np.random dropout, not re-seeded "
     "(f no function)", {"global-rng"}),
    ("running stats", "batchnorm_running", "running_stats", "BatchNorm1D: running statistics "
     "in backward", set()),
    ("accumulating", "dense_accumulating", "bias_mean", "Dense (+= gradients): bias a mean",
     {"ratio"}),
]

# The right versions, for false alarms: every maker once (dropout_global re-seeded).
CORRECT = [(name, name.replace("_", " ")) for name in MAKERS]
