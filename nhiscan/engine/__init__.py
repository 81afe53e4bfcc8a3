"""The matching engine: bytes in, matches out. Knows nothing of files or git."""
