"""`minivae gradcheck`: finite differences of a whole model, the book's or a checkpoint's."""

import numpy as np

from .common import CLIError, load_checkpoint, positive_int

EXIT_GRADCHECK_FAILED = 1
# Whole-model tolerances to certify (docs/gradcheck.md): the VAE's measured worst is
# ~5e-6; the autoencoder's loss ~0.7 against encoder gradients ~1e-6 puts the
# central-difference rounding floor near 1.5e-4 of the gradient's scale. A FAIL needs
# an error beyond that floor whatever the tolerance: these only separate pass from
# inconclusive.
GRADCHECK_RTOL = {"vae": 1e-5, "ae": 3e-4}


def add_parser(sub):
    g = sub.add_parser("gradcheck", help="finite-difference check of the whole model",
                       description="Builds the book's model (or a checkpoint's) in float64 and "
                       "compares every parameter's analytic gradient with finite differences "
                       "(a random subset of entries per array). Exit status 1 when any check "
                       "fails (an inconclusive check, one within the rounding floor, exits 0).")
    g.add_argument("--model", choices=("vae", "ae"), default="vae",
                   help="the book's model to build (default vae)")
    g.add_argument("--checkpoint", metavar="PATH",
                   help="check the model a checkpoint holds instead (any minivae model, at "
                        "its trained weights)")
    g.add_argument("--latent-dim", type=positive_int, default=2)
    g.add_argument("--batch-size", type=positive_int, default=2)
    g.add_argument("--max-entries", type=int, default=8,
                   help="entries checked per array (default 8)")
    g.add_argument("--directions", type=int, default=0, metavar="N",
                   help="check N random directions per array instead of entries")
    g.add_argument("--rtol", type=float, default=None,
                   help="certify max|a-n| / max|a| <= RTOL (default 1e-5 for the VAE, 3e-4 "
                   "for the autoencoder, whose tiny encoder gradients meet the rounding "
                   "floor of central differences: docs/gradcheck.md); an entry fails only "
                   "beyond what rounding allows")
    g.add_argument("--step", type=float, default=1e-6,
                   help="finite-difference step (default 1e-6)")
    g.add_argument("--seed", type=int, default=0)
    g.set_defaults(run=cmd_gradcheck)


def _model(args, rng):
    from ..architectures import fashion_autoencoder, fashion_vae
    from ..models import VAE
    if args.checkpoint:
        model = load_checkpoint(args.checkpoint, "--checkpoint").astype("float64")
        return model, "vae" if isinstance(model, VAE) else "ae"
    model = (fashion_vae if args.model == "vae" else fashion_autoencoder)(
        latent_dim=args.latent_dim, seed=args.seed, dtype="float64")
    for name, value in model.named_params().items():
        if name.endswith("/bias"):
            # Zero biases sit ReLU pre-activations exactly on the kink (docs/gradcheck.md).
            value[:] = 0.1 * rng.standard_normal(value.shape)
    return model, args.model


def cmd_gradcheck(args):
    from ..gradcheck import check_model
    # Flags argparse cannot judge alone: each error names its flag, on one line.
    if args.max_entries < 1:
        raise CLIError(f"--max-entries must be a positive integer (entries checked per "
                       f"array), got {args.max_entries}: that would check nothing")
    if args.directions < 0:
        raise CLIError(f"--directions must be an integer >= 0, got {args.directions}")
    for flag, value, high in (("--rtol", args.rtol, 1.0), ("--step", args.step, 1e-2)):
        if value is not None and not (np.isfinite(value) and 0 < value < high):
            raise CLIError(f"{flag} must be a number in (0, {high:g}), got {value!r}")
    rng = np.random.default_rng(args.seed)
    model, kind = _model(args, rng)
    x = rng.uniform(0.05, 0.95, size=(args.batch_size, *model.input_shape))
    eps = rng.standard_normal((args.batch_size, model.latent_dim)) if kind == "vae" else None
    rtol = args.rtol if args.rtol is not None else GRADCHECK_RTOL[kind]
    report = check_model(model, x, eps=eps, step=args.step, rtol=rtol,
                         max_entries=args.max_entries, directions=args.directions, rng=rng)
    print(report)
    word = {"pass": "PASSED", "FAIL": "FAILED",
            "inconclusive": "INCONCLUSIVE (no error beyond rounding, but not certified to "
                            "the tolerance)"}[report.verdict]
    print(f"worst relative error {report.worst():.2e} (tolerance {rtol:g}): {word}")
    return 0 if report.passed else EXIT_GRADCHECK_FAILED
