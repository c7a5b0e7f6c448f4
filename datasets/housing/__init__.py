"""Synthetic housing sales: 600 rows, 4 numeric columns, a `district` and the `price` (no network)."""
