"""Apache Hamilton modules: each public function is a node, its parameters the nodes it needs.

* :mod:`~cvn_sklearn.dags.fixed_params`: one model with fixed hyperparameters,
  from a :class:`~cvn_sklearn.contracts.Datasets` to a
  :class:`~cvn_sklearn.contracts.TrainedArtifact`;
* :mod:`~cvn_sklearn.dags.walk_forward`: the same per walk-forward fold, the
  folds fanned out with ``Parallelizable`` / ``Collect``;
* :mod:`~cvn_sklearn.dags.hpo`: an Optuna study over the model's search space.

The nodes are pure: estimators are cloned before they are fitted. The front
doors in :mod:`cvn_sklearn.harness` build each driver once and reuse it.
"""
