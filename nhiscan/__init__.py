"""nhiscan: find hard-coded credentials and keep an inventory of non-human identities."""

__version__ = "0.1.0"
