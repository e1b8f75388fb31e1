"""matplotlib, imported when a figure is drawn or an image file read (only those need it).

    start_matplotlib()      import it, or raise InputError in one line when the
                            environment's settings (a bad MPLBACKEND) stop it

Every `from matplotlib ...` inside minivae comes after this call, so that what
matplotlib refuses at import reads as one line, not a traceback.
"""

from .errors import InputError


def start_matplotlib():
    """Import matplotlib, turning its refusal of its own settings (a bad MPLBACKEND in the
    environment) into one line, not a traceback."""
    try:
        import matplotlib  # noqa: F401
    except ValueError as exc:
        raise InputError(f"matplotlib cannot start: {exc}; fix or unset MPLBACKEND (the "
                         f"figures need no backend of their own)") from None
