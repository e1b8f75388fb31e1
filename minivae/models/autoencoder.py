"""The chapter's plain autoencoder (docs/models.md).

    z    = encoder(x)                       any layers
    l    = decoder(z)                       logits; the images are sigmoid(l)
    loss = w * mean_n mean_pixels BCE(x, sigmoid(l))

Backward: dloss/dl through the decoder gives dz, and the encoder finishes the chain.
"""

from ..serialization import built_in
from .model import PREDICT_BATCH, Model


@built_in
class Autoencoder(Model):
    """The chapter's plain autoencoder: z = encoder(x), loss = w * mean pixel BCE."""

    def __init__(self, encoder, decoder, reconstruction_weight=1.0, reconstruction_loss="bce",
                 output_activation=None, rng=None, name="autoencoder", image_shape=None):
        super().__init__(encoder, decoder, reconstruction_weight, reconstruction_loss,
                         output_activation, rng, name, image_shape)

    def forward_backward(self, x, eps=None):
        """The batch's metrics, every layer's grads filled. The autoencoder has no noise:
        eps is accepted for the models' common interface and ignored."""
        x = self.check_batch(x)
        z = self.encoder.forward(x, training=True)
        value, d_out = self.reconstruction(x, self.decoder.forward(z, training=True))
        self.encoder.backward(self.decoder.backward(d_out))
        return {"total_loss": float(value), "reconstruction_loss": float(value)}

    def test_step(self, x):
        x = self.check_batch(x)
        out = self.decoder.forward(self.encoder.forward(x, training=False), training=False)
        value = float(self.reconstruction(x, out)[0])
        return {"total_loss": value, "reconstruction_loss": value}

    def encode(self, x, batch_size=PREDICT_BATCH):
        """z (N, latent_dim), in inference mode."""
        return self._encode(x, batch_size, "Autoencoder.encode")

    def _encode(self, x, batch_size, owner):
        """encode, its refusals in the name of `owner`, the method the user called."""
        x = self.check_images(x, owner)
        return self.batched(lambda b: self.encoder.forward(b, training=False), x, batch_size,
                            owner)

    def reconstruct(self, x, batch_size=PREDICT_BATCH):
        """decode(encode(x)), in inference mode."""
        owner = "Autoencoder.reconstruct"
        return self._decode(self._encode(x, batch_size, owner), batch_size, False, owner)
