"""The errors every dataset loader raises."""


class DatasetError(ValueError):
    """Data on disk or on the wire is missing, malformed, or not the dataset asked for."""


class DatasetWarning(UserWarning):
    """Data that loaded but could not be verified against the published release."""


class DatasetNotFoundError(DatasetError):
    """No copy of the dataset in any place searched; the message lists them all."""
