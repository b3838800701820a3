"""Homework 4, one module per problem: each opens with the problem's statement and its result, and
holds the construction that answers it and the experiment that measures it.

- ``p1_finite_differences``: image derivatives as one 3×3 convolution;
- ``p2_average_pooling``: the k×k average pool as one strided convolution;
- ``p3_grayscale``: RGB to grey as one 1×1 convolution;
- ``p4_maxpool_commutes``: max pooling commutes with non-decreasing activations, and the model
  rewrite that uses it;
- ``p5_losses``: logistic regression trained on KL or on the sum of squares, compared over seeds;
- ``p6_jacobians``: backprop from the layer Jacobians, and an MNIST classifier trained with it;
- ``p7_lenet_c3``: the partially connected C3 layer of the original LeNet-5.

``figures`` draws the pictures of Problems 1–6 (Problem 7 draws its own table);
``mathdnn.verify`` checks every result against an independent reference; ``mathdnn.report`` (the
command ``mathdnn hw4``) runs them all into one page.
"""
