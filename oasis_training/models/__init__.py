"""Forecasting candidates: each takes a panel cut at the origin and returns point forecasts."""
