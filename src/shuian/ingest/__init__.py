"""Readers that turn logger and CSV files into readings."""
