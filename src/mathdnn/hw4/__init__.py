"""Homework 4, one module per problem, listed in order by ``registry.PROBLEMS``.

A problem module holds everything about its problem:

- its docstring: ``Problem k: title.``, then the question and the answer;
- its construction, under the names a solution file uses (``finite_difference_filter``,
  ``avg_pool_filter``, ``grayscale_filter``, ``maxpool_counterexample``, ``logistic_loss``,
  ``sum_of_squares_loss``, ``sum_of_squares_grad``, ``mlp_gradients``, ``c3_connections``,
  ``c3_parameter_count``, ``lenet5_parameter_count``, ``c3_forward``);
- ``checks(rng, **construction)``: the rows ``mathdnn verify`` prints, each against an
  independent reference; the construction is a keyword argument, this module's by default, so
  the same checks judge any other construction;
- its commands, if it has any: ``COMMANDS``, each a ``mathdnn.command.Command`` (``edges``,
  ``pool``, ``gray``, ``losses``, ``jacobians``, ``mlp``), and ``image_bytes(header)`` where it
  draws on the photograph, the memory its figure needs (``mathdnn hw4 --image`` refuses what
  does not fit); Problem 7 adds its ``TRAIN_LENET`` to ``mathdnn train lenet``;
- ``EXERCISE``: the problem as a student solves it (``mathdnn grade``): each function's fixed
  signature and statement, which the template shows, and the search for the smallest input on
  which a student's function is wrong (in the vocabulary of ``mathdnn.exercise``).

- ``p1_finite_differences``: image derivatives as one 3×3 convolution;
- ``p2_average_pooling``: the k×k average pool as one strided convolution;
- ``p3_grayscale``: RGB to grey as one 1×1 convolution;
- ``p4_maxpool_commutes``: max pooling commutes with non-decreasing activations, and the model
  rewrite that uses it;
- ``p5_losses``: logistic regression trained on KL or on the sum of squares, compared over seeds;
- ``p6_jacobians``: backprop from the layer Jacobians, and an MNIST classifier trained with it;
- ``p7_lenet_c3``: the partially connected C3 layer of the original LeNet-5.

``figures`` draws the pictures of Problems 1–6 (Problem 7 draws its own table); ``photo`` is the
8-bit photograph the checks of Problems 1–3 compare with Pillow. ``mathdnn.verify`` runs every
problem's checks; ``mathdnn.report`` (the command ``mathdnn hw4``) runs them all into one page.
"""
