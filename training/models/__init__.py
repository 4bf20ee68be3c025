"""Forecasting candidates. Each takes a panel truncated at the cutoff and returns point forecasts."""
