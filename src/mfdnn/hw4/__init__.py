"""Homework 4, one module per problem: each opens with the problem's statement and its result, and
holds the constructions, counts and figures that answer it (``p7_lenet_c3``: Problem 7, the
partially connected C3 layer of the original LeNet-5)."""
