"""The corpus of bench_gradcheck.py: forward passes, their right backward passes,
and realistic bugs planted in those backward passes. NumPy only, so that every
checker's venv (torch's, jax's) imports it as it is.

Each maker `name(rng, bug=None)` returns (f, vjp, inputs):

    f(*inputs) -> array            the forward pass
    vjp(dy, *inputs) -> tuple      the backward pass, right when bug is None
    inputs                         float64 arrays drawn from rng (shapes too)

A bug is a key the maker knows; its backward then carries that one mistake.
Stateful bugs (a buffer that accumulates, noise redrawn in backward) keep their
state in the closure, fresh for every call of the maker.
"""

import numpy as np


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


MAKERS = {name: m for name, m in [
    ("dense", dense), ("weight_decay", weight_decay), ("conv2d", conv2d),
    ("conv2d_transpose", conv2d_transpose), ("sigmoid", sigmoid), ("tanh", tanh),
    ("leaky_relu", leaky_relu), ("softplus", softplus), ("elu", elu),
    ("relu_exact_zeros", relu_exact_zeros), ("sampling", sampling), ("kl", kl),
    ("batchnorm", batchnorm), ("softmax", softmax),
    ("softmax_cross_entropy", softmax_cross_entropy), ("flatten", flatten),
    ("dropout", dropout), ("mse", mse), ("mse_small", mse_small)]}

# (family, maker, bug key, what the bug is). The rows of the table, in order.
BUGS = [
    ("dense", "dense", "bias_first_row", "bias gradient not summed over the batch"),
    ("dense", "dense", "one_entry_1e-4", "one kernel entry 1e-4 off (relative)"),
    ("dense", "dense", "accumulates", "kernel gradient accumulates across calls"),
    ("dense", "weight_decay", "decay_twice", "weight decay 2x, raw 0..255 inputs"),
    ("conv", "conv2d", "kernel_flipped", "dx with the kernel rotated 180 degrees"),
    ("conv", "conv2d", "crop_wrong_side", "dx cropped on the wrong side (odd padding)"),
    ("conv", "conv2d", "batch_sum_missing", "dW from the first example only"),
    ("conv", "conv2d", "bias_mean", "bias gradient a mean, not a sum"),
    ("conv", "conv2d", "stride_ignored", "dx scattered at stride 1"),
    ("conv transpose", "conv2d_transpose", "crop_wrong_side", "dy padded on the wrong side"),
    ("conv transpose", "conv2d_transpose", "kernel_flipped", "dx with the kernel flipped"),
    ("activation", "sigmoid", "derivative_of_input", "sigmoid: s(1 - s) taken of x"),
    ("activation", "tanh", "derivative_of_input", "tanh: 1 - x^2 instead of 1 - y^2"),
    ("activation", "leaky_relu", "slope_dropped", "leaky ReLU: negative slope dropped"),
    ("activation", "softplus", "sign_flipped", "softplus: sigmoid(-x)"),
    ("activation", "elu", "alpha_dropped", "ELU: alpha dropped below 0"),
    ("sampling", "sampling", "half_missing", "d log_var without the 0.5"),
    ("sampling", "sampling", "eps_missing", "d log_var without eps"),
    ("sampling", "sampling", "eps_redrawn", "eps redrawn in backward"),
    ("KL", "kl", "log_var_sign", "d log_var sign flipped"),
    ("KL", "kl", "batch_mean_missing", "gradient of a batch sum, loss a mean"),
    ("normalisation", "batchnorm", "eps_dropped", "backward without eps"),
    ("normalisation", "batchnorm", "statistics_constant", "mean and variance held constant"),
    ("normalisation", "batchnorm", "unbiased_n", "1/(n-1) where 1/n belongs"),
    ("softmax", "softmax", "diagonal_only", "Jacobian diagonal only"),
    ("softmax", "softmax_cross_entropy", "batch_mean_missing", "cross-entropy without 1/n"),
    ("layout", "softmax", "wrong_axis", "softmax backward summed over the batch axis"),
    ("layout", "dense", "reshape_not_transpose", "dW reshaped where transposed"),
    ("layout", "conv2d", "kernel_layout", "dW in (out, in, kh, kw) reshaped"),
    ("layout", "conv2d_transpose", "kernel_in_out_swapped", "kernel gradient (in, out)"),
    ("layout", "flatten", "channels_first", "Flatten backward in NCHW order"),
    ("noise", "dropout", "mask_redrawn", "dropout mask redrawn in backward"),
    ("loss", "mse_small", "n_minus_1", "MSE over 10,240: 2(y - t)/(n - 1)"),
]

# The right versions, for false alarms: every maker once.
CORRECT = [(name, name.replace("_", " ")) for name in MAKERS]
