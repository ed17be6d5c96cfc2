"""Model files: one file = one registered model (see ``cvn_sklearn.registry``)."""
