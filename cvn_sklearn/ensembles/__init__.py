"""Ensemble files: one file = one registered ensemble (see ``cvn_sklearn.registry``)."""
