"""Renderers: console tables, JSON, CSV, plots and HTML, all reading result dataclasses."""
