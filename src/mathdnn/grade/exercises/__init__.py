"""The grading part of each problem (until each moves into its problem's module)."""

from mathdnn.grade.exercises import p1, p2, p3, p4, p5, p6, p7

EXERCISES = tuple(m.EXERCISE for m in (p1, p2, p3, p4, p5, p6, p7))
