# nbgrader's configuration for the workbook's exercises (`make release`, `make grade`).
# The course root is this folder: source/<stem>/<stem>.ipynb is authored once; the
# student notebooks and solutions in notebooks/ are generated from it (workbook/instructor).
c = get_config()  # noqa: F821 -- nbgrader provides it

c.CourseDirectory.course_id = "working-with-models"

# What a student sees where a solution was. Solution regions sit in method bodies (or, at the
# top level, after a placeholder in a cell tagged raises-exception), so the stub raises only when
# the method is called: the notebook still runs top to bottom, and the checker reports
# "not implemented yet" with its hint.
c.ClearSolutions.code_stub = {
    "python": "# YOUR CODE HERE: replace this comment and the line below (the TODO above says what to write).\n"
              "raise NotImplementedError(\"TODO: write this part\")",
}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Solutions are generated without running them (the notebook tests run them under every
# backend): nbgrader's GenerateSolution without its Execute step.
from nbgrader.preprocessors import ClearMarkScheme, ClearOutput, IncludeHeaderFooter, LockCells  # noqa: E402

c.GenerateSolution.preprocessors = [IncludeHeaderFooter, LockCells, ClearOutput, ClearMarkScheme]
