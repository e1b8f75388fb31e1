"""Write notebooks/0*.ipynb: the book's three chapter-3 notebooks, cell for cell, on minivae.

    python3 tools/make_notebooks.py        (needs nbformat: pip install -e '.[notebooks]')

The cells live here as text so that a change to a notebook is a readable diff;
the notebooks are written without outputs. Where the book has a cell, the
notebook has one doing the same with minivae in place of Keras (its comment
says what stands in for what); figures are minivae.plotting's PNGs, shown with
IPython.display.Image. MINIVAE_NOTEBOOK_QUICK=1 (the tests set it) shrinks the
data and the epochs so that each notebook runs in seconds.
"""

import os
import sys

import nbformat

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "notebooks")

QUICK = '''QUICK = os.environ.get("MINIVAE_NOTEBOOK_QUICK") == "1"    # the tests' setting: seconds, not minutes'''

SHOW = '''FIGURES = "figures"          # every figure is a PNG written here, then shown
os.makedirs(FIGURES, exist_ok=True)
os.makedirs("models", exist_ok=True)


def show(path):
    return Image(filename=str(path))'''

FASHION_DATA = '''# Load the data: Fashion-MNIST where it is installed, else the 2,000-image sample
# shipped inside minivae (the book: datasets.fashion_mnist.load_data())
train = load_dataset("train", dtype="uint8")
if train.is_sample:           # the sample is 2,000 test images: hold the last 200 out
    x_train, y_train = train.images[:1800], train.labels[:1800]
    x_test, y_test = train.images[1800:], train.labels[1800:]
else:
    test = load_dataset("test", dtype="uint8", allow_sample=False)
    x_train, y_train, x_test, y_test = train.images, train.labels, test.images, test.labels
if QUICK:
    x_train, y_train, x_test, y_test = x_train[:300], y_train[:300], x_test[:200], y_test[:200]
print(f"{len(x_train)} training and {len(x_test)} test images from "
      f"{'the embedded sample' if train.is_sample else train.source}")'''

FASHION_PREPROCESS = '''# Preprocess the data. load_dataset already pads 28x28 to 32x32 and adds the channel
# axis, as the book's preprocess(); the pixels stay uint8 (a quarter of the memory)
# and the model scales each batch by 1/255 as it reads it.
print(x_train.shape, x_train.dtype, "->", to_float(x_train[:1]).dtype, "in [0, 1]")'''

FASHION_SHOW = '''# Show some items of clothing from the training set
show(plotting.plot_image_grid(to_float(x_train[:10]), f"{FIGURES}/train.png", ncols=10))'''

FASHION_BODY = '''x = [
    layers.Conv2D(32, (3, 3), strides=2, activation="relu", padding="same"),
    layers.Conv2D(64, (3, 3), strides=2, activation="relu", padding="same"),
    layers.Conv2D(128, (3, 3), strides=2, activation="relu", padding="same"),
]
shape_before_flattening = Sequential(x).build((IMAGE_SIZE, IMAGE_SIZE, CHANNELS))
x.append(layers.Flatten())'''

FASHION_DECODER = '''# Decoder
decoder = Sequential([
    layers.Dense(int(np.prod(shape_before_flattening))),
    layers.Reshape(shape_before_flattening),
    layers.Conv2DTranspose(128, (3, 3), strides=2, activation="relu", padding="same"),
    layers.Conv2DTranspose(64, (3, 3), strides=2, activation="relu", padding="same"),
    layers.Conv2DTranspose(32, (3, 3), strides=2, activation="relu", padding="same"),
    layers.Conv2D(CHANNELS, (3, 3), strides=1, activation="sigmoid", padding="same",
                  name="decoder_output"),
], name="decoder")'''

CLASS_TABLE = '''| ID | Clothing Label |
| :- | :- |
''' + "\n".join(f"| {i} | {name} |" for i, name in enumerate(
    ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
     "Ankle boot"]))


def autoencoder():
    return [
        ("md", "# Autoencoders on Fashion-MNIST, with minivae"),
        ("md", "The book's notebook `03_vae/01_autoencoder`, cell for cell, with minivae (NumPy, "
               "every backward written by hand) in place of Keras: train an autoencoder with a "
               "2-D latent space, then look at what its decoder makes of the space."),
        ("code", f'''import os

import numpy as np
from IPython.display import Image

from minivae import checkpoint, latent, layers, plotting
from minivae.datasets import FASHION_MNIST_CLASSES, load_dataset
from minivae.fast import memory
from minivae.models import Autoencoder, Sequential
from minivae.optimizers import Adam
from minivae.pixels import to_float

{SHOW}'''),
        ("md", "## 0. Parameters"),
        ("code", f'''IMAGE_SIZE = 32
CHANNELS = 1
BATCH_SIZE = 100
EMBEDDING_DIM = 2
EPOCHS = 3
{QUICK}
if QUICK:
    EPOCHS = 1'''),
        ("md", "## 1. Prepare the data"),
        ("code", FASHION_DATA),
        ("code", FASHION_PREPROCESS),
        ("code", FASHION_SHOW),
        ("md", "## 2. Build the autoencoder"),
        ("code", f'''# Encoder
{FASHION_BODY}
x.append(layers.Dense(EMBEDDING_DIM, name="encoder_output"))
encoder = Sequential(x, name="encoder")'''),
        ("code", FASHION_DECODER),
        ("code", '''# Autoencoder: the decoder applied to the encoder's output
autoencoder = Autoencoder(encoder, decoder)
autoencoder.build((IMAGE_SIZE, IMAGE_SIZE, CHANNELS), rng=np.random.default_rng(0))
encoder.summary()
decoder.summary()'''),
        ("md", "## 3. Train the autoencoder"),
        ("code", '''# Compile the autoencoder: the book's optimizer="adam" is Adam(0.001), and its
# loss="binary_crossentropy" the Autoencoder's default (the mean pixel BCE)
autoencoder.compile(Adam(learning_rate=0.001))'''),
        ("code", '''# Create a model save checkpoint (written after every epoch; no TensorBoard here)
model_checkpoint_callback = checkpoint.CheckpointCallback("models/checkpoint.npz")'''),
        ("code", '''# fit splits each batch between the cores; keeping freed buffers for the next
# step is a setting of this whole process (the kernel is the notebook's own)
memory.tune_for_training()
history = autoencoder.fit(
    x_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    shuffle=True,
    validation_data=x_test,
    callbacks=[model_checkpoint_callback],
    seed=0,
    verbose=2,
)'''),
        ("code", '''# Save the final model (encoder and decoder live inside it)
saved = checkpoint.save("models/autoencoder.npz", autoencoder, epoch=EPOCHS, history=history)
print(f"saved {saved}")'''),
        ("md", "## 4. Reconstruct using the autoencoder"),
        ("code", '''n_to_predict = 5000
example_images = x_test[:n_to_predict]
example_labels = y_test[:n_to_predict]'''),
        ("code", '''predictions = autoencoder.reconstruct(example_images)
print("Example real clothing items (top) and their reconstructions (bottom)")
show(plotting.plot_reconstructions(to_float(example_images), predictions,
                                   f"{FIGURES}/reconstructions.png"))'''),
        ("md", "## 5. Embed using the encoder"),
        ("code", '''# Encode the example images
embeddings = autoencoder.encode(example_images)'''),
        ("code", '''# Some examples of the embeddings
print(embeddings[:10])'''),
        ("code", '''# Show the encoded points in 2D space
show(plotting.plot_latent_scatter(embeddings, None, f"{FIGURES}/embedding.png"))'''),
        ("code", '''# Colour the embeddings by their label (clothing type - see table)
show(plotting.plot_latent_scatter(embeddings, example_labels, f"{FIGURES}/embedding_labels.png",
                                  class_names=FASHION_MNIST_CLASSES))'''),
        ("md", "## 6. Generate using the decoder"),
        ("code", '''# Get the range of the existing embeddings
mins, maxs = latent.bounding_box(embeddings)
print("mins", mins, "maxs", maxs)

# Sample some points in the latent space, uniformly from that box
grid_width, grid_height = (6, 3)
sample = latent.bounding_box_samples(embeddings, grid_width * grid_height,
                                     np.random.default_rng(0))'''),
        ("code", '''# Decode the sampled points
reconstructions = latent.decode_points(autoencoder, sample)'''),
        ("code", '''# Draw the embeddings with the sampled points on them, and underneath the
# decoded images, each labelled with its point's coordinates
show(plotting.plot_latent_samples(embeddings, sample, reconstructions,
                                  f"{FIGURES}/box_samples.png", ncols=grid_width))'''),
        ("code", '''# Decode a 15 x 15 grid over the range of the embeddings, beside the embeddings
# coloured by their label (clothing type - see table)
grid_size = 15
grid = latent.range_grid(embeddings, grid_size)
reconstructions = latent.decode_points(autoencoder, grid["points"])
show(plotting.plot_range_grid(reconstructions, grid["xs"], grid["ys"], f"{FIGURES}/grid.png",
                              codes=grid["plane"], labels=example_labels,
                              class_names=FASHION_MNIST_CLASSES))'''),
    ]


def vae_fashion():
    return [
        ("md", "# Variational autoencoders on Fashion-MNIST, with minivae"),
        ("md", "The book's notebook `03_vae/02_vae_fashion`, cell for cell, with minivae in "
               "place of Keras: the VAE of chapter 3, its samples from the prior, and its "
               "latent space seen through the prior's CDF."),
        ("md", "The book adapted its code from Francois Chollet's VAE example on keras.io; "
               "here the same model is `minivae.models.VAE`, its backward written by hand."),
        ("code", f'''import os

import numpy as np
from IPython.display import Image

from minivae import checkpoint, latent, layers, plotting
from minivae.datasets import FASHION_MNIST_CLASSES, load_dataset
from minivae.fast import memory
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.optimizers import Adam
from minivae.pixels import to_float

{SHOW}'''),
        ("md", "## 0. Parameters"),
        ("code", f'''IMAGE_SIZE = 32
CHANNELS = 1
BATCH_SIZE = 100
EMBEDDING_DIM = 2
EPOCHS = 5
BETA = 500                    # the book's weight on the mean pixel BCE
{QUICK}
if QUICK:
    EPOCHS = 1'''),
        ("md", "## 1. Prepare the data"),
        ("code", FASHION_DATA),
        ("code", FASHION_PREPROCESS),
        ("code", FASHION_SHOW),
        ("md", "## 2. Build the variational autoencoder"),
        ("code", '''# The book's Sampling layer is minivae.layers.Sampling:
print(layers.Sampling.__doc__)'''),
        ("code", f'''# Encoder: the body, then the z_mean and z_log_var heads and Sampling
# (GaussianEncoder adds the last three)
{FASHION_BODY}
encoder = GaussianEncoder(x, EMBEDDING_DIM, name="encoder")'''),
        ("code", FASHION_DECODER),
        ("code", '''# The book's VAE class (train_step, test_step, the three losses) is minivae.models.VAE:
# total_loss = BETA * mean pixel BCE + KL, computed from the decoder's logits
print(VAE.__doc__)'''),
        ("code", '''# Create a variational autoencoder
vae = VAE(encoder, decoder, reconstruction_weight=BETA)
vae.build((IMAGE_SIZE, IMAGE_SIZE, CHANNELS), rng=np.random.default_rng(0))
encoder.summary()
decoder.summary()'''),
        ("md", "## 3. Train the variational autoencoder"),
        ("code", '''# Compile the variational autoencoder
optimizer = Adam(learning_rate=0.0005)
vae.compile(optimizer)'''),
        ("code", '''# Create a model save checkpoint (written after every epoch)
model_checkpoint_callback = checkpoint.CheckpointCallback("models/checkpoint.npz")'''),
        ("code", '''memory.tune_for_training()   # freed buffers kept for reuse: a setting of this kernel
history = vae.fit(
    x_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    shuffle=True,
    validation_data=x_test,
    callbacks=[model_checkpoint_callback],
    seed=0,
    verbose=2,
)'''),
        ("code", '''# Save the final model
saved = checkpoint.save("models/vae.npz", vae, epoch=EPOCHS, history=history)
print(f"saved {saved}")'''),
        ("md", "## 4. Reconstruct using the variational autoencoder"),
        ("code", '''# Select a subset of the test set
n_to_predict = 5000
example_images = x_test[:n_to_predict]
example_labels = y_test[:n_to_predict]'''),
        ("code", '''# Create autoencoder predictions and display (decoded from z_mean)
z_mean, z_log_var = vae.encode(example_images)
reconstructions = vae.reconstruct(example_images)
print("Example real clothing items (top) and their reconstructions (bottom)")
show(plotting.plot_reconstructions(to_float(example_images), reconstructions,
                                   f"{FIGURES}/reconstructions.png"))'''),
        ("md", "## 5. Embed using the encoder"),
        ("code", '''# Encode the example images: z drawn from q(z|x), the encoder's third output
z = latent.codes(vae, example_images, sample=True, rng=np.random.default_rng(0))'''),
        ("code", '''# Some examples of the embeddings
print(z[:10])'''),
        ("code", '''# Show the encoded points in 2D space
show(plotting.plot_latent_scatter(z, None, f"{FIGURES}/embedding.png"))'''),
        ("md", "## 6. Generate using the decoder"),
        ("code", '''# Sample some points in the latent space, from the standard normal distribution
grid_width, grid_height = (6, 3)
z_sample = latent.prior_samples(EMBEDDING_DIM, grid_width * grid_height,
                                np.random.default_rng(0))'''),
        ("code", '''# Decode the sampled points
reconstructions = latent.decode_points(vae, z_sample)'''),
        ("code", '''# Convert original embeddings and sampled embeddings to p-values
p = latent.p_space(z)
p_sample = latent.p_space(z_sample)'''),
        ("code", '''# Draw the embeddings with the sampled points on them, and underneath the
# decoded images, each labelled with its point's coordinates
show(plotting.plot_latent_samples(z, z_sample, reconstructions, f"{FIGURES}/prior_samples.png",
                                  ncols=grid_width))'''),
        ("md", "## 7. Explore the latent space"),
        ("code", '''# Colour the embeddings by their label (clothing type - see table), in z and in
# p = norm.cdf(z), where the prior N(0, I) is uniform on the square
show(plotting.plot_p_space(z, example_labels, f"{FIGURES}/p_space.png",
                           class_names=FASHION_MNIST_CLASSES))'''),
        ("md", CLASS_TABLE),
        ("code", '''# Decode a 15 x 15 grid of the prior's quantiles: evenly spaced in p. (The book takes
# norm.ppf(linspace(0, 1)), whose ends are -inf and +inf; minivae stops at 1% and 99%.)
grid_size = 15
show(plotting.plot_latent_grid(vae.decode, f"{FIGURES}/grid.png", n=grid_size))'''),
    ]


def vae_faces():
    return [
        ("md", "# Variational autoencoders on CelebA faces, with minivae"),
        ("md", "The book's notebook `03_vae/03_vae_faces`, cell for cell, with minivae in place "
               "of Keras: the faces VAE (64x64x3, BatchNormalization and LeakyReLU, latent 200, "
               "2000 x MSE + KL), its latent distribution, new faces, and latent arithmetic.\n\n"
               "**Data.** minivae never downloads CelebA. Set `MINIVAE_CELEBA` to a folder "
               "holding `img_align_celeba/` and `list_attr_celeba.csv` (or edit the path "
               "cell). Without it the notebook writes a small stand-in in CelebA's own layout "
               "and says which: the 100 real LFW faces scikit-image ships (`pip install "
               "scikit-image`), else faces minivae draws. The stand-in shows the workflow "
               "runs; it shows nothing about faces: a VAE of 200 dimensions fitted to 100 "
               "images learns little.\n\n"
               "**Time.** On two cores minivae trains this model at about 0.2 s per image: an "
               "epoch of CelebA's 202,599 faces takes about 11 hours. `TRAIN_IMAGES` bounds "
               "the faces trained on."),
        ("code", f'''import os
import tempfile

import numpy as np
from IPython.display import Image

from minivae import attributes, checkpoint, latent, layers, plotting
from minivae.datasets import load_celeba, open_celeba, standin
from minivae.models import VAE, GaussianEncoder, Sequential
from minivae.optimizers import Adam
from minivae.pixels import to_float

{SHOW}'''),
        ("md", "## 0. Parameters"),
        ("code", f'''IMAGE_SIZE = 64
CHANNELS = 3
BATCH_SIZE = 128
NUM_FEATURES = 64
Z_DIM = 200
LEARNING_RATE = 0.0005
EPOCHS = 10
BETA = 2000
LOAD_MODEL = False
TRAIN_IMAGES = None           # None: every face (the book); a number bounds time and memory
{QUICK}
if QUICK:
    EPOCHS, TRAIN_IMAGES = 1, 32'''),
        ("md", "## 1. Prepare the data"),
        ("code", '''# Load the data: CelebA where MINIVAE_CELEBA points (the book's path otherwise),
# else a stand-in written in CelebA's layout
CELEBA = os.environ.get("MINIVAE_CELEBA", "/app/data/celeba-dataset")
if os.path.isdir(os.path.join(CELEBA, "img_align_celeba")):
    LABEL = "Blond_Hair"
    print(f"CelebA at {CELEBA}")
else:
    CELEBA = tempfile.mkdtemp(prefix="celeba-standin-")
    what, LABEL = standin.make_celeba_standin(CELEBA)
    print(f"CelebA not found at MINIVAE_CELEBA: using a stand-in, {what}")'''),
        ("code", '''# Read it as the book does: each image resized to 64x64 whole (bilinear, no crop),
# shuffled with a fixed seed; uint8 pixels, scaled to [0, 1] batch by batch in fit
train_data = open_celeba(CELEBA)
x_train = load_celeba(CELEBA, TRAIN_IMAGES or len(train_data), size=(IMAGE_SIZE, IMAGE_SIZE),
                      dtype="uint8", shuffle=True, rng=np.random.default_rng(42))
print(x_train.shape, x_train.dtype)'''),
        ("code", '''train_sample = to_float(x_train[:10])'''),
        ("code", '''# Show some faces from the training set
show(plotting.plot_image_grid(train_sample, f"{FIGURES}/train.png", ncols=10))'''),
        ("md", "## 2. Build the variational autoencoder"),
        ("code", '''# The book's Sampling layer is minivae.layers.Sampling:
print(layers.Sampling.__doc__)'''),
        ("code", '''# Encoder: five blocks of Conv2D, BatchNormalization and LeakyReLU, then the heads
x = []
for _ in range(5):
    x += [layers.Conv2D(NUM_FEATURES, kernel_size=3, strides=2, padding="same"),
          layers.BatchNormalization(), layers.LeakyReLU()]
shape_before_flattening = Sequential(x).build((IMAGE_SIZE, IMAGE_SIZE, CHANNELS))
x.append(layers.Flatten())
encoder = GaussianEncoder(x, Z_DIM, name="encoder")'''),
        ("code", '''# Decoder: Dense, then five blocks of Conv2DTranspose, BatchNormalization, LeakyReLU
x = [layers.Dense(int(np.prod(shape_before_flattening))), layers.BatchNormalization(),
     layers.LeakyReLU(), layers.Reshape(shape_before_flattening)]
for _ in range(5):
    x += [layers.Conv2DTranspose(NUM_FEATURES, kernel_size=3, strides=2, padding="same"),
          layers.BatchNormalization(), layers.LeakyReLU()]
x.append(layers.Conv2DTranspose(CHANNELS, kernel_size=3, strides=1, activation="sigmoid",
                                padding="same"))
decoder = Sequential(x, name="decoder")'''),
        ("code", '''# The book's VAE class is minivae.models.VAE; here its reconstruction loss is
# BETA x the mean squared error, the book's 2000 x MSE
print(VAE.__doc__)'''),
        ("code", '''# Create a variational autoencoder
vae = VAE(encoder, decoder, reconstruction_weight=BETA, reconstruction_loss="mse")
vae.build((IMAGE_SIZE, IMAGE_SIZE, CHANNELS), rng=np.random.default_rng(0))
encoder.summary()
decoder.summary()'''),
        ("md", "## 3. Train the variational autoencoder"),
        ("code", '''# Compile the variational autoencoder
optimizer = Adam(learning_rate=LEARNING_RATE)
vae.compile(optimizer)'''),
        ("code", '''# Create a model save checkpoint, and the book's ImageGenerator: faces from the
# prior saved after every epoch (a callback is any function of model, epoch, logs, history)
model_checkpoint_callback = checkpoint.CheckpointCallback("models/checkpoint.npz")
os.makedirs("output", exist_ok=True)


def image_generator(model, epoch, logs, history, num_img=10):
    images = model.generate(num_img, np.random.default_rng(epoch))
    plotting.plot_image_grid(images, f"output/generated_img_{epoch:03d}.png", ncols=num_img)'''),
        ("code", '''# Load old weights if required
if LOAD_MODEL:
    vae = checkpoint.load("models/vae.npz")'''),
        ("code", '''history = vae.fit(
    x_train,
    epochs=EPOCHS,
    batch_size=BATCH_SIZE,
    callbacks=[model_checkpoint_callback, image_generator],
    seed=0,
    verbose=2,
)'''),
        ("code", '''# Save the final model
saved = checkpoint.save("models/vae.npz", vae, epoch=EPOCHS, history=history)
print(f"saved {saved}")'''),
        ("md", "## 4. Reconstruct using the variational autoencoder"),
        ("code", '''# Select a subset of the training set (a batch, as the book)
example_images = x_train[:8 if QUICK else BATCH_SIZE]'''),
        ("code", '''# Create autoencoder predictions and display
reconstructions = vae.reconstruct(example_images)
print("Example real faces (top) and their reconstructions (bottom)")
show(plotting.plot_reconstructions(to_float(example_images), reconstructions,
                                   f"{FIGURES}/reconstructions.png"))'''),
        ("md", "## 5. Latent space distribution"),
        ("code", '''# Histograms of z drawn from q(z|x), dimensions 0-49, against the N(0, 1) density
z = latent.codes(vae, example_images, sample=True, rng=np.random.default_rng(0))
show(plotting.plot_latent_histograms(z, f"{FIGURES}/histograms.png", dims=50))'''),
        ("md", "## 6. Generate new faces"),
        ("code", '''# Sample some points in the latent space, from the standard normal distribution
grid_width, grid_height = (10, 3)
z_sample = latent.prior_samples(Z_DIM, grid_width * grid_height, np.random.default_rng(0))'''),
        ("code", '''# Decode the sampled points
reconstructions = latent.decode_points(vae, z_sample)'''),
        ("code", '''# Draw a plot of decoded images
show(plotting.plot_image_grid(reconstructions, f"{FIGURES}/generated.png", ncols=grid_width))'''),
        ("md", "## 7. Manipulate the images"),
        ("code", '''# Load the label dataset
print(train_data.attribute_names)
for name, row in zip(train_data.files[:5], train_data.attributes[:5]):
    print(name, " ".join(f"{v:2d}" for v in row[:10]))'''),
        ("code", '''# Load the face data with label attached: batches of (images, labels), shuffled
labelled = train_data.batches(BATCH_SIZE, attribute=LABEL, limit=64 if QUICK else None,
                              shuffle=True, rng=np.random.default_rng(42), dtype="uint8")'''),
        ("code", '''# Find the attribute vector: running means of z with and without the label, until
# both together move less than 0.08 (or 10,000 faces with it)
print(f"label: {LABEL}")
print("images : POS move : NEG move : distance : change")
attribute_vec = attributes.attribute_vector(
    vae, labelled, rng=np.random.default_rng(0),
    callback=lambda r: print(f"{r['n_positive']} : {r['move_positive']:.3f} : "
                             f"{r['move_negative']:.3f} : {r['distance']:.3f} : "
                             f"{r['change']:.3f}"))
print(f"Found the {LABEL} vector" if attribute_vec.converged else
      f"Stopped before the {LABEL} vector converged")'''),
        ("code", '''# Add vector to images: five faces, factors -4 to 4
faces = example_images[:5]
changed, _ = attributes.add_vector(vae, faces, attribute_vec.vector, attributes.BOOK_FACTORS)
show(plotting.plot_attribute_arithmetic(to_float(faces), changed, attributes.BOOK_FACTORS,
                                        f"{FIGURES}/add_vector.png",
                                        title=f"z + factor x the {LABEL} vector"))'''),
        ("code", '''# Morph between two faces: (1 - alpha) z_A + alpha z_B, alpha = 0, 0.1, ..., 1
pair = to_float(example_images[:2])
morphed, _ = attributes.morph(vae, pair[0], pair[1], attributes.BOOK_ALPHAS)
show(plotting.plot_morph(morphed, attributes.BOOK_ALPHAS, f"{FIGURES}/morph.png",
                         originals=pair))'''),
    ]


def write(name, cells):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, (kind, source) in enumerate(cells):
        make = nbformat.v4.new_markdown_cell if kind == "md" else nbformat.v4.new_code_cell
        cell = make(source)
        cell["id"] = f"{name.split('_')[0]}-{i:02d}"   # stable ids: no churn between writes
        nb.cells.append(cell)
    nbformat.validate(nb)
    path = os.path.join(OUT, f"{name}.ipynb")
    with open(path, "w") as f:
        nbformat.write(nb, f)
    return path


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, cells in (("01_autoencoder", autoencoder()), ("02_vae_fashion", vae_fashion()),
                        ("03_vae_faces", vae_faces())):
        print(write(name, cells))


if __name__ == "__main__":
    sys.exit(main())
