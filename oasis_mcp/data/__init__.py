"""Data layer: SSMSI parsing and validation, geography, indicators, tidy dataset, download cache."""
