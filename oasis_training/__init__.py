"""Offline training: rolling-origin benchmark, calibrated intervals and forecasts to 2030.

Heavy dependencies (scikit-learn, statsmodels, prophet, xgboost, lightgbm, mlflow) are imported
only inside this package, never by the runtime package ``oasis_mcp``.
"""

FORECAST_END_YEAR = 2030
SEED = 20260122
