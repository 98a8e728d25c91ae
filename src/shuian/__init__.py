"""Shuian (水安): open-source smart water-safety platform for reservoirs and dams."""

__version__ = "0.1.0"
