"""``mathdnn grade``: a student's own Homework 4, checked problem by problem, with a
counterexample for every mistake.

- ``exercise``: the vocabulary of a problem's grading part (``Exercise``, ``Task``, the answer
  checks, the property search that shrinks a failing input, ``Counterexample``);
- ``sandbox``, ``child``, ``protocol``: a submission runs in child processes, never in the grader;
  only values come back, as JSON and ``.npy`` bytes, and the grader judges them;
- ``run``: grading a file or many, problem by problem, in parallel; the results;
- ``feedback``, ``page``: the results as text, CSV and JSON, and as a page;
- ``template``: the solution file a student starts from.

This package imports nothing here, so that a problem's module can import ``grade.exercise``.
"""
