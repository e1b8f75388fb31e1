"""A small stand-in for CelebA, in CelebA's own layout, for when the real one is absent.

The faces notebook and the tests use it so that the code that reads CelebA is
the code that runs. Two sources, best first:

    lfw_faces()         the 100 real faces (25 x 25, gray) that scikit-image's wheel
                        ships as skimage.data.lfw_subset(); None without scikit-image
    drawn_faces(n, rng) cartoon faces drawn here, with two attributes that mean what
                        CelebA's do: Blond_Hair and Smiling

write_celeba_layout(root, images, attributes) writes either as
root/img_align_celeba/NNNNNN.png plus root/list_attr_celeba.csv (-1/1), which
datasets.open_celeba reads like the real thing.
"""

from pathlib import Path

import numpy as np
from PIL import Image            # matplotlib's own dependency: always there

from .._validation import check_positive_int, generator_or_default
from ..errors import InputError
from ..pixels import to_float, to_uint8
from .celeba import ATTRIBUTE_FILES, IMAGE_FOLDER

LFW_FACES = 100                 # lfw_subset(): 100 faces, then 100 patches of background


def lfw_faces():
    """The 100 LFW faces of skimage.data.lfw_subset() as float (100, 25, 25, 3) in [0, 1]
    (gray repeated to three channels), or None when scikit-image is not installed."""
    try:
        from skimage.data import lfw_subset
    except ImportError:
        return None
    faces = to_float(np.asarray(lfw_subset())[:LFW_FACES], "float32")
    return np.repeat(faces[..., None], 3, axis=-1)


def brightness_attribute(images):
    """+1 for images whose centre (the middle half of each side) is brighter than the
    median image's, else -1: an attribute every set of faces has (skin, lighting),
    for a stand-in that has no labels of its own."""
    x = np.asarray(images, dtype=np.float64)
    H, W = x.shape[1:3]
    centre = x[:, H // 4:H - H // 4, W // 4:W - W // 4].mean(axis=(1, 2, 3))
    return np.where(centre > np.median(centre), 1, -1).astype(np.int8)


def drawn_faces(n, rng=None, size=64):
    """n cartoon faces (n, size, size, 3) float32 in [0, 1] and their attributes.

    Each face: a background, hair (blond or dark), a skin-toned oval, two eyes
    and a mouth (a smile curving up, or a straight line), with random colours,
    sizes and offsets. Returns (images, {"Blond_Hair": (n,), "Smiling": (n,)})
    with -1/1 as CelebA's table; about a third are blond, half smile.
    """
    n = check_positive_int(n, "n", "drawn_faces")
    rng = generator_or_default(rng, "rng", "drawn_faces")
    blond = rng.random(n) < 1 / 3
    smiling = rng.random(n) < 0.5
    y, x = np.mgrid[0:size, 0:size] / size         # unit square, y downwards
    out = np.empty((n, size, size, 3), dtype=np.float32)
    for i in range(n):
        cx, cy = 0.5 + rng.normal(0, 0.03), 0.54 + rng.normal(0, 0.03)
        rx, ry = rng.uniform(0.26, 0.31), rng.uniform(0.33, 0.38)
        image = np.broadcast_to(rng.uniform(0.1, 0.9, 3), (size, size, 3)).copy()
        hair = (np.array([0.93, 0.80, 0.38]) if blond[i] else
                np.array([0.25, 0.16, 0.10]) * rng.uniform(0.3, 1.2))
        hair = np.clip(hair + rng.normal(0, 0.04, 3), 0, 1)
        image[((x - cx) / (rx + 0.06)) ** 2 + ((y - cy + 0.08) / (ry + 0.05)) ** 2 < 1] = hair
        skin = np.array([0.96, 0.80, 0.66]) * rng.uniform(0.45, 1.0)
        image[((x - cx) / rx) ** 2 + ((y - cy + 0.03) / (ry - 0.03)) ** 2 < 1] = skin
        for side in (-1, 1):
            image[(x - cx - side * 0.11) ** 2 + (y - cy + 0.05) ** 2 < 0.035 ** 2] = 0.08
        u = x - cx                                  # the mouth: y = m + c u^2 for |u| < w
        curve = cy + 0.17 - (2.8 if smiling[i] else 0.0) * u ** 2
        image[(np.abs(u) < 0.12) & (np.abs(y - curve) < 0.022)] = (0.55, 0.12, 0.12)
        out[i] = image
    return out, {"Blond_Hair": np.where(blond, 1, -1).astype(np.int8),
                 "Smiling": np.where(smiling, 1, -1).astype(np.int8)}


def write_celeba_layout(root, images, attributes):
    """Write images (N, H, W, 3) and attributes {name: (N,) of -1/1} as CelebA lays them
    out: root/img_align_celeba/000001.png, ... and root/list_attr_celeba.csv.
    Returns Path(root)."""
    root = Path(root)
    folder = root / IMAGE_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    pixels = np.asarray(images)
    if pixels.dtype != np.uint8:
        pixels = to_uint8(np.asarray(pixels, np.float64))
    if pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise InputError(f"write_celeba_layout: images must be RGB (N, H, W, 3), got shape "
                         f"{pixels.shape}")
    names = list(attributes)
    columns = [np.asarray(attributes[k]) for k in names]
    if any(c.shape != (len(pixels),) or not np.isin(c, (-1, 1)).all() for c in columns):
        raise InputError(f"write_celeba_layout: each attribute must be {len(pixels)} values "
                         f"of -1 or 1, one per image")
    rows = ["image_id," + ",".join(names)]
    for i, image in enumerate(pixels):
        file = f"{i + 1:06d}.png"
        Image.fromarray(image).save(folder / file)
        rows.append(",".join([file] + [str(int(c[i])) for c in columns]))
    (root / ATTRIBUTE_FILES[0]).write_text("\n".join(rows) + "\n")
    return root


def make_celeba_standin(root, rng=None, n_drawn=200):
    """Write the best stand-in available at root; return (what it is, its attribute).

    With scikit-image: the 100 LFW faces and the "Bright" attribute
    (brightness_attribute: LFW's subset has no labels). Without it: n_drawn
    drawn faces and their "Blond_Hair" attribute, the book's own example.
    """
    faces = lfw_faces()
    if faces is not None:
        write_celeba_layout(root, faces, {"Bright": brightness_attribute(faces)})
        return ("the 100 LFW faces (25 x 25, gray) of scikit-image's lfw_subset, with "
                "'Bright' (centre brighter than the median face) as the attribute", "Bright")
    images, attributes = drawn_faces(n_drawn, rng)
    write_celeba_layout(root, images, attributes)
    return (f"{n_drawn} cartoon faces drawn by minivae (scikit-image is not installed), with "
            f"'Blond_Hair' and 'Smiling' as attributes", "Blond_Hair")
