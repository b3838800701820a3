"""``mathdnn grade``: a student's own Homework 4, checked problem by problem, with a
counterexample for every mistake.

- ``sandbox``, ``child``, ``protocol``: a submission runs in child processes, never in the grader;
  only values come back, as JSON and ``.npy`` bytes, and the grader judges them;
- ``run``: grading a file or many, problem by problem, in parallel; the results;
- ``feedback``, ``page``: the results as text, CSV and JSON, and as a page;
- ``template``: the solution file a student starts from.

What each problem asks of a student, and how a function is searched for a counterexample, is in
the problem's module (``EXERCISE``, in the vocabulary of ``mathdnn.exercise``); this package names
no problem.
"""
