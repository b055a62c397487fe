"""Tools for instructors: the exercises authored once in nbgrader's format (``exercises/``),
released as the student notebooks and solutions in ``notebooks/`` (``release``), and a class's
submissions autograded offline (``grade``). Students never import this package.
"""
