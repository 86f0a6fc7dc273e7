"""Compressed copies of the raw data files, with their SHA256 checksums."""
