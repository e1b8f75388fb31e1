"""The book's VAE in PyTorch and in Keras: bench_train.py's framework contenders.

Each *_worker function is the body of a worker process (bench_train.py started
under the framework's venv with `--worker torch` or `--worker keras`); it
answers "setup", "steps" and, for Keras, "epoch" requests (_common.serve).

  torch   the same network as minivae's fashion_vae in PyTorch eager, NCHW or
          channels_last; TensorFlow's 'same' padding by F.pad, Keras's
          glorot-uniform initialisers, Adam(5e-4, eps=1e-7) as Keras's
  keras   the book's code: a keras.Model subclass with the book's custom
          train_step (GradientTape, 500 * BCE over (1,2,3) + KL),
          compile(Adam(5e-4)), stepped through model.train_on_batch(x)
"""

import time

import _common
from _common import BATCH, LEARNING_RATE, RECONSTRUCTION_WEIGHT, load_fashion, timed_steps


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
