"""The book's chapter experiments: the layer above the topic packages.

The topic packages (:mod:`nbcode.optim`, :mod:`nbcode.norm`, :mod:`nbcode.init`,
:mod:`nbcode.regularize`, ...) hold the algorithms, each tested against an independent
reference. A chapter's experiments — which network, which data, which learning rates, what to
measure — are built from them here, one module per topic:

* :mod:`nbcode.experiments.optim` — the optimizer race (2-D surfaces and the digits), the
  batch-size study;
* :mod:`nbcode.experiments.norm` — BatchNorm in small MLPs: curvature, stable learning rates,
  noisy batch statistics;
* :mod:`nbcode.experiments.init` — deep MLPs trained from each initialization;
* :mod:`nbcode.experiments.regularize` — dropout, augmentation and the playground.

The topic packages never import this layer and never re-export it; this package imports none of
its modules either (``import nbcode.experiments.optim`` loads that one).
"""
