"""One training step of the book's Fashion-MNIST VAE, minivae against PyTorch and Keras.

A step is forward, backward and the Adam update on one batch of 100 images
(the first 100 Fashion-MNIST training images, the same array for everyone),
float32, latent 2, loss 500 * mean-pixel BCE + KL, Adam(5e-4). Contenders,
each where installed, each in its own process:

  minivae             fashion_vae(seed=0).compile(Adam(5e-4)); model.train_step(x)
                      (this working tree, the system Python)
  torch NCHW          the same network in PyTorch eager (below), NCHW tensors
  torch channels_last the same, with the model and the input in channels_last
  keras               the book's code: a keras.Model subclass with the book's
                      custom train_step (GradientTape, 500 * BCE over (1,2,3) + KL),
                      compile(Adam(5e-4)), timed through model.train_on_batch(x),
                      which runs the train_step under tf.function (no XLA: Keras's
                      "auto" turns XLA off on a CPU-only machine)

After --warmup steps each, the contenders take turns (A B C D A B C D ...):
--rounds rounds of --steps steps. Each step is timed alone. Reported: the median
ms/step over all steps and the range of the per-round medians, images/s,
projected seconds per epoch (600 steps, no validation), peak RSS of each process,
and minivae's time divided by each contender's (median of the per-round ratios,
so each ratio compares two measurements taken seconds apart).

With --epoch (opt-in, minutes): one real epoch instead, `minivae train`'s fit
(60,000 images, then 10,000 validation images) against the book's Keras fit of
one epoch on the same data, both loaded with minivae.datasets.

With --match-isa: PyTorch and Keras are held to the vector extension of the
kernels numpy's OpenBLAS runs (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY; see
_common.ISA_LIMITS). Where the environment pins OpenBLAS to AVX2 kernels
(OPENBLAS_CORETYPE=Haswell) on an AVX-512 CPU, the default run compares AVX2
GEMMs with the frameworks' AVX-512 ones; this run compares like with like. Every
run prints the CPU's extension and numpy's kernel family.

    python3 benchmarks/bench_train.py [--rounds 5 --steps 30 --warmup 5] [--match-isa]
    python3 benchmarks/bench_train.py --epoch
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _common
from _common import fmt_ms, print_table

BATCH = 100
LEARNING_RATE = 5e-4
STEPS_PER_EPOCH = 600           # 60,000 training images / batch 100
RECONSTRUCTION_WEIGHT = 500.0   # the book's BETA

# contender -> (venv kind or None for this interpreter, worker name, extra worker args)
CONTENDERS = {
    "minivae": (None, "minivae", []),
    "torch NCHW": ("torch", "torch", ["--layout", "nchw"]),
    "torch channels_last": ("torch", "torch", ["--layout", "channels_last"]),
    "keras": ("tf", "keras", []),
}


def timed_steps(step, n):
    """Run step() n times; the list of each call's milliseconds."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        step()
        times.append((time.perf_counter() - t) * 1e3)
    return times


def load_fashion(split, dtype, limit=None):
    """A split of Fashion-MNIST via minivae.datasets (the embedded sample if absent),
    cut to its first `limit` images when given."""
    from minivae.datasets import load_dataset
    data = load_dataset(split, dtype=dtype, allow_sample=True)
    images = data.images[:limit]
    return images, {"source": str(data.source), "n": len(images), "sample": data.is_sample}


# ------------------------------------------------------------- the workers --

def minivae_worker():
    import numpy as np

    state = {}

    def setup(batch_path, warmup):
        t = time.perf_counter()
        import minivae
        from minivae.architectures import fashion_vae
        from minivae.optimizers import Adam
        from minivae._malloc import reuse_freed_memory
        model = fashion_vae(seed=0).compile(Adam(learning_rate=LEARNING_RATE))
        reuse_freed_memory()                 # as fit() does before its first step
        x = np.load(batch_path)
        setup_s = time.perf_counter() - t
        state.update(model=model, x=x)
        first = timed_steps(lambda: model.train_step(x), 1)[0]
        timed_steps(lambda: model.train_step(x), warmup)
        return {"setup_s": setup_s, "first_step_ms": first, "params": model.count_params(),
                "version": f"minivae {getattr(minivae, '__version__', '')} "
                           f"({Path(minivae.__file__).parent}), numpy {np.__version__}"}

    def steps(n):
        model, x = state["model"], state["x"]
        return {"ms": timed_steps(lambda: model.train_step(x), n),
                "loss": model.train_step(x)["total_loss"]}

    def epoch(epochs, limit):
        from minivae.architectures import fashion_vae
        from minivae.optimizers import Adam
        x_train, train_info = load_fashion("train", "uint8", limit)
        x_val, val_info = load_fashion("test", "uint8", limit)
        model = fashion_vae(seed=0).compile(Adam(learning_rate=LEARNING_RATE))
        t = time.perf_counter()
        # as `minivae train` calls it (cli.cmd_train), less the checkpoint callback
        history = model.fit(x_train, epochs=epochs, batch_size=BATCH, validation_data=x_val,
                            verbose=0)
        seconds = time.perf_counter() - t
        return {"seconds": seconds, "train": train_info, "validation": val_info,
                "final": {k: v[-1] for k, v in history.history.items()}}

    _common.serve({"setup": setup, "steps": steps, "epoch": epoch})


def torch_worker(layout):
    import numpy as np
    import torch
    import torch.nn.functional as F
    from torch import nn

    memory = torch.channels_last if layout == "channels_last" else torch.contiguous_format

    class SameConv(nn.Conv2d):
        """Conv2d 3x3 stride 2 with TensorFlow's 'same' padding: 0 before, 1 after."""

        def forward(self, x):
            return super().forward(F.pad(x, (0, 1, 0, 1)))

    class BookVAE(nn.Module):
        """The book's network, layer for layer, in PyTorch (NCHW order of features)."""

        def __init__(self, latent_dim=2):
            super().__init__()
            self.encoder = nn.Sequential(
                SameConv(1, 32, 3, stride=2), nn.ReLU(),
                SameConv(32, 64, 3, stride=2), nn.ReLU(),
                SameConv(64, 128, 3, stride=2), nn.ReLU(), nn.Flatten())
            self.z_mean = nn.Linear(4 * 4 * 128, latent_dim)
            self.z_log_var = nn.Linear(4 * 4 * 128, latent_dim)
            self.decoder_dense = nn.Linear(latent_dim, 4 * 4 * 128)
            # k 3, stride 2, padding 1, output_padding 1: Keras 'same''s output size (2n)
            self.decoder = nn.Sequential(
                nn.ConvTranspose2d(128, 128, 3, 2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(128, 64, 3, 2, padding=1, output_padding=1), nn.ReLU(),
                nn.ConvTranspose2d(64, 32, 3, 2, padding=1, output_padding=1), nn.ReLU(),
                nn.Conv2d(32, 1, 3, stride=1, padding=1), nn.Sigmoid())
            for module in self.modules():    # Keras's initialisers: glorot-uniform, zero bias
                if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                    nn.init.xavier_uniform_(module.weight)
                    nn.init.zeros_(module.bias)

        def forward(self, x):
            h = self.encoder(x)
            z_mean, z_log_var = self.z_mean(h), self.z_log_var(h)
            z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
            h = self.decoder_dense(z).view(-1, 128, 4, 4).contiguous(memory_format=memory)
            return self.decoder(h), z_mean, z_log_var

    state = {}

    def train_step():
        model, optimizer, x = state["model"], state["optimizer"], state["x"]
        optimizer.zero_grad(set_to_none=True)
        x_rec, z_mean, z_log_var = model(x)
        bce = F.binary_cross_entropy(x_rec, x, reduction="none").mean(dim=(1, 2, 3))
        reconstruction = (RECONSTRUCTION_WEIGHT * bce).mean()
        kl = (-0.5 * (1 + z_log_var - z_mean ** 2 - torch.exp(z_log_var))).sum(dim=1).mean()
        loss = reconstruction + kl
        loss.backward()
        optimizer.step()
        return loss.item()

    def setup(batch_path, warmup):
        t = time.perf_counter()
        torch.manual_seed(0)
        model = BookVAE().to(memory_format=memory)
        x = torch.from_numpy(np.load(batch_path)).permute(0, 3, 1, 2)   # NHWC -> NCHW
        state.update(model=model, x=x.contiguous(memory_format=memory),
                     optimizer=torch.optim.Adam(model.parameters(), lr=LEARNING_RATE,
                                                eps=1e-7))
        setup_s = time.perf_counter() - t
        first = timed_steps(train_step, 1)[0]
        timed_steps(train_step, warmup)
        return {"setup_s": setup_s, "first_step_ms": first,
                "params": sum(p.numel() for p in model.parameters()),
                "version": f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
                           f"{layout}"}

    def steps(n):
        return {"ms": timed_steps(train_step, n), "loss": train_step()}

    _common.serve({"setup": setup, "steps": steps})


def keras_book_vae(latent_dim=2):
    """The book's chapter-3 VAE in Keras 3: encoder, decoder and the VAE model class."""
    import keras
    import tensorflow as tf
    from keras import layers, losses, metrics, models

    class Sampling(layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = keras.random.SeedGenerator(0)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            epsilon = keras.random.normal(tf.shape(z_mean), seed=self.seed_generator)
            return z_mean + tf.exp(0.5 * z_log_var) * epsilon

    encoder_input = layers.Input(shape=(32, 32, 1), name="encoder_input")
    x = layers.Conv2D(32, (3, 3), strides=2, activation="relu", padding="same")(encoder_input)
    x = layers.Conv2D(64, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2D(128, (3, 3), strides=2, activation="relu", padding="same")(x)
    shape_before_flattening = x.shape[1:]
    x = layers.Flatten()(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    encoder = models.Model(encoder_input, [z_mean, z_log_var, z], name="encoder")

    decoder_input = layers.Input(shape=(latent_dim,), name="decoder_input")
    x = layers.Dense(4 * 4 * 128)(decoder_input)
    x = layers.Reshape(shape_before_flattening)(x)
    x = layers.Conv2DTranspose(128, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(64, (3, 3), strides=2, activation="relu", padding="same")(x)
    x = layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same")(x)
    decoder_output = layers.Conv2D(1, (3, 3), strides=1, activation="sigmoid", padding="same",
                                   name="decoder_output")(x)
    decoder = models.Model(decoder_input, decoder_output, name="decoder")

    def vae_losses(data, z_mean, z_log_var, reconstruction):
        reconstruction_loss = tf.reduce_mean(
            RECONSTRUCTION_WEIGHT
            * losses.binary_crossentropy(data, reconstruction, axis=(1, 2, 3)))
        kl_loss = tf.reduce_mean(tf.reduce_sum(
            -0.5 * (1 + z_log_var - tf.square(z_mean) - tf.exp(z_log_var)), axis=1))
        return reconstruction_loss + kl_loss, reconstruction_loss, kl_loss

    class VAE(models.Model):
        def __init__(self, encoder, decoder, **kwargs):
            super().__init__(**kwargs)
            self.encoder = encoder
            self.decoder = decoder
            self.total_loss_tracker = metrics.Mean(name="total_loss")
            self.reconstruction_loss_tracker = metrics.Mean(name="reconstruction_loss")
            self.kl_loss_tracker = metrics.Mean(name="kl_loss")

        @property
        def metrics(self):
            return [self.total_loss_tracker, self.reconstruction_loss_tracker,
                    self.kl_loss_tracker]

        def call(self, inputs):
            z_mean, z_log_var, z = self.encoder(inputs)
            return z_mean, z_log_var, self.decoder(z)

        def train_step(self, data):
            if isinstance(data, tuple):     # Keras 3 hands over (x, y, sample_weight)
                data = data[0]
            with tf.GradientTape() as tape:
                z_mean, z_log_var, reconstruction = self(data)
                total_loss, reconstruction_loss, kl_loss = vae_losses(
                    data, z_mean, z_log_var, reconstruction)
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            self.reconstruction_loss_tracker.update_state(reconstruction_loss)
            self.kl_loss_tracker.update_state(kl_loss)
            return {m.name: m.result() for m in self.metrics}

        def test_step(self, data):
            if isinstance(data, tuple):
                data = data[0]
            z_mean, z_log_var, reconstruction = self(data)
            total_loss, reconstruction_loss, kl_loss = vae_losses(
                data, z_mean, z_log_var, reconstruction)
            return {"loss": total_loss, "reconstruction_loss": reconstruction_loss,
                    "kl_loss": kl_loss}

    return VAE(encoder, decoder)


def keras_worker():
    import numpy as np

    state = {}

    def build():
        import keras
        keras.utils.set_random_seed(0)
        vae = keras_book_vae()
        vae.compile(optimizer=keras.optimizers.Adam(learning_rate=LEARNING_RATE))
        return vae

    def setup(batch_path, warmup):
        t = time.perf_counter()
        import keras
        import tensorflow as tf
        vae = build()
        x = tf.constant(np.load(batch_path))
        setup_s = time.perf_counter() - t
        state.update(vae=vae, x=x)
        first = timed_steps(lambda: vae.train_on_batch(x), 1)[0]    # includes the trace
        timed_steps(lambda: vae.train_on_batch(x), warmup)
        threading = tf.config.threading
        return {"setup_s": setup_s, "first_step_ms": first,
                "params": vae.encoder.count_params() + vae.decoder.count_params(),
                "jit_compile": bool(vae.jit_compile),
                "version": f"tensorflow {tf.__version__}, keras {keras.__version__}, intra-op "
                           f"{threading.get_intra_op_parallelism_threads() or 'default'}, "
                           f"inter-op {threading.get_inter_op_parallelism_threads() or 'default'}"
                           f", jit_compile={vae.jit_compile}"}

    def steps(n):
        vae, x = state["vae"], state["x"]
        times = timed_steps(lambda: vae.train_on_batch(x), n)
        return {"ms": times, "loss": vae.train_on_batch(x, return_dict=True)["total_loss"]}

    def epoch(epochs, limit):
        x_train, train_info = load_fashion("train", "float32", limit)
        x_val, val_info = load_fashion("test", "float32", limit)
        vae = build()
        t = time.perf_counter()
        # the book's call, with validation as `minivae train` does it
        history = vae.fit(x_train, epochs=epochs, batch_size=BATCH, shuffle=True,
                          validation_data=(x_val, x_val), verbose=0)
        seconds = time.perf_counter() - t
        return {"seconds": seconds, "train": train_info, "validation": val_info,
                "final": {k: float(v[-1]) for k, v in history.history.items()}}

    _common.serve({"setup": setup, "steps": steps, "epoch": epoch})


# ------------------------------------------------------------- orchestrator --

def start_workers(names, framework_env=None):
    """Start the chosen contenders that are installed; returns (workers, skipped).
    framework_env: extra environment variables for the PyTorch and Keras workers."""
    workers, skipped, pythons = {}, {}, {}
    for name in names:
        kind, worker, extra = CONTENDERS[name]
        if kind is None:
            python = sys.executable
        else:
            if kind not in pythons:
                pythons[kind] = _common.venv_python(kind)
            python, why = pythons[kind]
            if python is None:
                skipped[name] = why
                continue
        workers[name] = _common.Worker(worker, python, __file__, extra,
                                       env=None if kind is None else framework_env)
    return workers, skipped


def first_batch():
    """The first 100 training images as float32 NHWC, saved for every worker to load."""
    import numpy as np
    from minivae.datasets import load_dataset, to_float
    data = load_dataset("train", dtype="uint8", allow_sample=True)
    x = to_float(data.images[:BATCH])
    path = Path(tempfile.mkdtemp(prefix="bench-train-")) / "batch.npy"
    np.save(path, x.astype(np.float32))
    return path, {"source": str(data.source), "sample": data.is_sample}


def run_steps(args, workers):
    batch_path, batch_info = first_batch()
    print(f"batch: the first {BATCH} training images of {batch_info['source']}")
    setups = {}
    for name, worker in workers.items():
        setups[name] = worker.request(cmd="setup", batch_path=str(batch_path),
                                      warmup=args.warmup)
        print(f"  {name}: ready in {setups[name]['setup_s']:.1f} s, first step "
              f"{fmt_ms(setups[name]['first_step_ms'])} ms; {setups[name]['version']}",
              flush=True)
    rounds = {name: [] for name in workers}
    losses = {}
    for r in range(args.rounds):
        for name, worker in workers.items():
            reply = worker.request(cmd="steps", n=args.steps)
            rounds[name].append(reply["ms"])
            losses[name] = reply["loss"]
        print(f"  round {r + 1}/{args.rounds}: " + ", ".join(
            f"{name} {fmt_ms(statistics.median(rounds[name][-1]))}" for name in workers)
            + " ms/step", flush=True)
    batch_path.unlink()
    batch_path.parent.rmdir()
    return {"batch": batch_info, "setup": setups, "rounds_ms": rounds, "last_loss": losses}


def report_steps(result, finals):
    rounds = result["rounds_ms"]
    medians = {name: statistics.median([t for rnd in rs for t in rnd])
               for name, rs in rounds.items()}
    round_medians = {name: [statistics.median(rnd) for rnd in rs] for name, rs in rounds.items()}
    summary = {}
    rows = []
    for name in rounds:
        ms = medians[name]
        entry = {"ms_per_step": ms, "round_medians_ms": round_medians[name],
                 "images_per_s": BATCH / ms * 1e3,
                 "projected_epoch_s": STEPS_PER_EPOCH * ms / 1e3,
                 "peak_rss_mb": finals[name]["peak_rss_mb"]}
        ratio = "-"
        if "minivae" in rounds and name != "minivae":
            per_round = [a / b for a, b in zip(round_medians["minivae"], round_medians[name])]
            entry["minivae_over_this"] = {"median": statistics.median(per_round),
                                          "min": min(per_round), "max": max(per_round)}
            ratio = (f"{statistics.median(per_round):.2f}x "
                     f"({min(per_round):.2f}-{max(per_round):.2f})")
        summary[name] = entry
        rows.append([name, fmt_ms(ms), f"{fmt_ms(min(round_medians[name]))}-"
                     f"{fmt_ms(max(round_medians[name]))}", f"{entry['images_per_s']:.0f}",
                     f"{entry['projected_epoch_s']:.1f}", f"{entry['peak_rss_mb']:.0f}", ratio])
    print()
    print_table(["contender", "ms/step", "round range", "images/s", "s/epoch",
                 "peak RSS MB", "minivae / this"], rows)
    print()
    print("ms/step: median of all timed steps; round range: min-max of the per-round medians;")
    print(f"s/epoch: {STEPS_PER_EPOCH} steps at the median (no validation); minivae / this: "
          "median (min-max) of the per-round ratios")
    return summary


def run_epoch(args, workers):
    results = {}
    for name, worker in workers.items():
        if name not in ("minivae", "keras"):
            continue
        print(f"  {name}: {args.epochs} epoch(s) of fit ...", flush=True)
        results[name] = worker.request(cmd="epoch", epochs=args.epochs, limit=args.limit)
        print(f"    {results[name]['seconds']:.1f} s on {results[name]['train']['n']} + "
              f"{results[name]['validation']['n']} images; final "
              + ", ".join(f"{k} {v:.2f}" for k, v in results[name]["final"].items()), flush=True)
    return results


def report_epoch(results, finals):
    rows = []
    for name, r in results.items():
        ratio = "-"
        if name != "minivae" and "minivae" in results:
            ratio = f"{results['minivae']['seconds'] / r['seconds']:.2f}x"
        rows.append([name, f"{r['seconds']:.1f}", f"{r['train']['n']}+{r['validation']['n']}",
                     f"{finals[name]['peak_rss_mb']:.0f}", ratio])
    print()
    print_table(["contender", "fit s", "images (train+val)", "peak RSS MB", "minivae / this"],
                rows)
    print("fit s: wall time of fit for the epoch(s), validation included; Keras's includes "
          "tracing its train and test functions")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=30, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--contenders", nargs="+", choices=list(CONTENDERS),
                        default=list(CONTENDERS), metavar="NAME",
                        help=f"a subset of: {', '.join(repr(c) for c in CONTENDERS)}")
    parser.add_argument("--epoch", action="store_true",
                        help="time real epochs of fit (minivae vs Keras); takes minutes")
    parser.add_argument("--epochs", type=int, default=1, help="epochs for --epoch")
    parser.add_argument("--limit", type=int, help="--epoch on the first LIMIT images of each "
                        "split (a quick check of the harness, not a measurement)")
    parser.add_argument("--match-isa", action="store_true",
                        help="hold PyTorch's and TensorFlow's kernels to the vector extension "
                        "of the kernels numpy's OpenBLAS runs (ONEDNN_MAX_CPU_ISA, "
                        "ATEN_CPU_CAPABILITY): the same instruction set for every contender")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--layout", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker == "minivae":
        return minivae_worker()
    if args.worker == "torch":
        return torch_worker(args.layout)
    if args.worker == "keras":
        return keras_worker()

    names = args.contenders
    if args.epoch:
        names = [n for n in names if n in ("minivae", "keras")]
    limits = {}
    if args.match_isa:
        family, isa = _common.numpy_blas_isa()
        if isa is None:
            parser.error("--match-isa needs threadpoolctl and numpy on a known OpenBLAS "
                         f"kernel family; found {family!r}")
        limits = _common.ISA_LIMITS.get(isa, {})   # AVX-512: the frameworks' own widest
    workers, skipped = start_workers(names, limits)
    for name, why in skipped.items():
        print(f"  {name}: skipped ({why})")
    threads = _common.thread_report()
    mode = "epoch" if args.epoch else "steps"
    print(f"minivae from {_common.REPO}; {_common.cpu_model()}, {_common.machine_report()['cpus']}"
          f" CPUs; mode {mode}", flush=True)
    isa = _common.isa_report()
    print(isa)
    if args.match_isa:
        print("--match-isa: PyTorch and Keras run with " + (" ".join(
            f"{k}={v}" for k, v in limits.items()) or "no limit (minivae's BLAS already "
            "runs AVX-512 kernels)"))
    try:
        if args.epoch:
            result = {"epochs": args.epochs, "limit": args.limit,
                      "fit": run_epoch(args, workers)}
        else:
            result = run_steps(args, workers)
    finally:
        finals = {name: worker.close() for name, worker in workers.items()}
    if args.epoch:
        report_epoch(result["fit"], finals)
    else:
        result["summary"] = report_steps(result, finals)
    print("threads (left at their defaults):")
    for name, final in finals.items():
        print(f"  {name}: {_common.describe_threads(final['threads'])}")
    path = _common.write_results("bench_train" + ("_epoch" if args.epoch else ""), {
        "script": "bench_train.py", "mode": mode, "batch": BATCH, "dtype": "float32",
        "rounds": args.rounds, "steps": args.steps, "warmup": args.warmup,
        "machine": _common.machine_report(), "orchestrator_threads": threads,
        "isa": isa, "framework_isa_limits": limits,
        "skipped": skipped, "processes": finals, **result})
    print(_common.load_note())
    print(f"wrote {path.relative_to(_common.REPO)}")


if __name__ == "__main__":
    sys.exit(main())
