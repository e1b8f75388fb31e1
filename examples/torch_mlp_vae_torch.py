"""The PyTorch side of docs/torch_port.md: pytorch/examples' VAE (vae/main.py) on
Fashion-MNIST, written out. NEEDS TORCH (pip install torch); minivae's side,
examples/torch_mlp_vae.py, does not.

    /work/venv-torch/bin/python examples/torch_mlp_vae_torch.py --seed 0 --epochs 10
    /work/venv-torch/bin/python examples/torch_mlp_vae_torch.py --model conv --epochs 5

784-400-20 with ReLU, heads fc21 and fc22, a sigmoid decoder back to 784 pixels;
loss = BCE summed over the pixels and the batch + the KL summed; Adam(1e-3),
batches of 128; after each epoch the test loss summed over the test set and
divided by its size, as the example reports it. Before the first step the
initial weights are handed to minivae through minivae.torch_bridge and saved
as a minivae checkpoint (OUT/init_seedS.npz), so that
`examples/torch_mlp_vae.py --init OUT/init_seedS.npz` starts where this starts.
The images are those minivae loads (the same files, flattened, pixels / 255).
"""

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F
from torch import nn

from minivae import checkpoint
from minivae.torch_bridge import vae_from_torch
# minivae's side of the port, beside this file (python puts the script's folder first
# on sys.path): both sides measure their memory the same way
from torch_mlp_vae import peak_rss_mib, reset_peak_rss


class VAE(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, 20)      # mu
        self.fc22 = nn.Linear(400, 20)      # log variance
        self.fc3 = nn.Linear(20, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x):
        h1 = F.relu(self.fc1(x))
        return self.fc21(h1), self.fc22(h1)

    def reparameterize(self, mu, logvar):
        std = torch.exp(0.5 * logvar)
        return mu + torch.randn_like(std) * std

    def decode(self, z):
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

    def forward(self, x):
        mu, logvar = self.encode(x.view(-1, 784))
        return self.decode(self.reparameterize(mu, logvar)), mu, logvar


class ConvVAE(nn.Module):
    """The same VAE with stride-2 3x3 convolutions (28 -> 14 -> 7, padding=1) in front
    and transposed ones (padding=1, output_padding=1) behind: --model conv."""

    def __init__(self, latent_dim=20):
        super().__init__()
        self.encoder = nn.Sequential(nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.Flatten())
        self.fc_mu = nn.Linear(64 * 7 * 7, latent_dim)
        self.fc_logvar = nn.Linear(64 * 7 * 7, latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=2, padding=1, output_padding=1), nn.Sigmoid())

    def forward(self, x):
        h = self.encoder(x)
        mu, logvar = self.fc_mu(h), self.fc_logvar(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decoder(z), mu, logvar


def loss_function(recon_x, x, mu, logvar):
    """BCE summed over pixels and batch, plus KL(q(z|x) || N(0, I)) summed."""
    bce = F.binary_cross_entropy(recon_x.view(-1, 784), x.view(-1, 784), reduction="sum")
    kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return bce + kld


def as_minivae(model):
    """The same network as a minivae VAE: loss per image = 784 x the mean-pixel BCE + KL."""
    if isinstance(model, ConvVAE):
        return vae_from_torch(model.encoder, model.fc_mu, model.fc_logvar, model.decoder,
                              input_shape=(1, 28, 28), reconstruction_weight=784.0)
    return vae_from_torch(nn.Sequential(model.fc1, nn.ReLU()), model.fc21, model.fc22,
                          nn.Sequential(model.fc3, nn.ReLU(), model.fc4, nn.Sigmoid()),
                          input_shape=(784,), reconstruction_weight=784.0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    parser.add_argument("--model", choices=("mlp", "conv"), default="mlp")
    parser.add_argument("--limit", type=int, help="the first N training and test images")
    parser.add_argument("--out", default="runs/torch_port")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)

    from minivae.datasets import load_fashion_mnist
    shape = (-1, 784) if args.model == "mlp" else (-1, 1, 28, 28)   # NCHW for the convolutions
    x_train = torch.from_numpy(load_fashion_mnist("train", pad=False)[0].reshape(shape))
    x_test = torch.from_numpy(load_fashion_mnist("test", pad=False)[0].reshape(shape))
    x_train, x_test = x_train[:args.limit], x_test[:args.limit]
    train_loader = torch.utils.data.DataLoader(x_train, batch_size=128, shuffle=True)
    test_loader = torch.utils.data.DataLoader(x_test, batch_size=128)

    model = VAE() if args.model == "mlp" else ConvVAE()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    os.makedirs(args.out, exist_ok=True)
    tag = "" if args.model == "mlp" else "conv_"
    init = os.path.join(args.out, f"{tag}init_seed{args.seed}.npz")
    checkpoint.save(init, as_minivae(model))
    print(f"initial weights for minivae: {init}")

    rows = []
    for epoch in range(1, args.epochs + 1):
        reset_peak_rss()
        start, cpu = time.perf_counter(), time.process_time()
        model.train()
        train_loss = 0.0
        for data in train_loader:
            optimizer.zero_grad()
            recon, mu, logvar = model(data)
            loss = loss_function(recon, data, mu, logvar)
            loss.backward()
            train_loss += loss.item()
            optimizer.step()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
        model.eval()
        test_loss = 0.0
        with torch.no_grad():
            for data in test_loader:
                recon, mu, logvar = model(data)
                test_loss += loss_function(recon, data, mu, logvar).item()
        rows.append({"epoch": epoch, "train_loss": train_loss / len(x_train),
                     "test_loss": test_loss / len(x_test), "seconds": seconds,
                     "cpu_seconds": cpu_seconds,
                     "peak_rss_mib": peak_rss_mib()})
        print("epoch {epoch}: train {train_loss:.2f}, test {test_loss:.2f}, {seconds:.1f} s "
                  "({cpu_seconds:.1f} s CPU), "
              "peak RSS {peak_rss_mib:.0f} MiB".format(**rows[-1]))
    path = os.path.join(args.out, f"{tag}torch_seed{args.seed}.json")
    with open(path, "w") as f:
        json.dump({"side": "PyTorch", "model": args.model, "torch": torch.__version__,
                   "seed": args.seed,
                   "threads": args.threads, "epochs": rows}, f, indent=1)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
