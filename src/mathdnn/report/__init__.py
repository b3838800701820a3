"""The report of ``mathdnn hw4``: all seven problems of Homework 4 run, measured and checked, in one
page a student can open, read and share.

- ``build``: ``prepare`` loads and checks the inputs (the photograph, MNIST); ``build`` runs each
  problem (its construction, its experiment, its figures, its checks from ``mathdnn.verify``) and
  returns a ``Report``, whose ``document()`` is ``results.json``;
- ``html``: ``render(report)`` is ``index.html``, one self-contained page (figures embedded, no
  script, nothing fetched).

``mathdnn.cli.hw4`` writes the folder, whole or not at all.
"""
