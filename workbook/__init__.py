"""Models Workbook: the helper package behind the "Working with Models" notebooks."""

__version__ = "0.1.0"
