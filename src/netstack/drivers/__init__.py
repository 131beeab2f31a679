"""Network drivers, each behind a small contract (``typing.Protocol``)."""
