"""OASIS MCP: French recorded-crime statistics (SSMSI) served over the Model Context Protocol."""

__version__ = "0.1.0"
