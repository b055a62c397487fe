# On PYTHONPATH only inside a grading kernel's sandbox (workbook/instructor/sandbox.py): a Python
# process the graded notebook starts inherits the same limits.
from workbook.instructor.sandbox import install

install()
