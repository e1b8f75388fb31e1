"""What minivae raises when a value it was given is not what the call expects.

    InputError       a ValueError: the wrong shape, range, size or choice
    InputTypeError   a TypeError: the wrong kind of object

Each is a subclass of the builtin, so `except ValueError` catches InputError as
before. They exist so that a caller can tell a refused input from a ValueError
or TypeError raised by a bug: the command line reports the first in one line
and lets the second show its traceback, so that it can be reported.
"""


class InputError(ValueError):
    """A value was refused; the message names it, what was expected and what came."""


class InputTypeError(TypeError):
    """An argument of the wrong type was refused; the message names it and what was expected."""
