"""``workbook.quiz`` is the quiz's published import path; the quiz itself lives with the
other course helpers in ``workbook.course.quiz``. Both names are the same module object."""

import sys

from .course import quiz as _quiz

sys.modules[__name__] = _quiz
