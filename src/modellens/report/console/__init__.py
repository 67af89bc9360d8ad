"""Rich console views, one module per command; tables are built from `columns` specs."""
