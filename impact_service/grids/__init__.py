"""Grids: the catalog, uploads, summaries and POI search."""
