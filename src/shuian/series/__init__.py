"""Time-series operations on stored readings (downsampling for charts)."""
