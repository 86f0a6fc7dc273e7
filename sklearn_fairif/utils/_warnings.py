"""Warnings reported at the user's line, however deep they are raised."""

import inspect
import os
import sys

import sklearn

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# scikit-learn's wrappers around fit (the _fit_context decorator,
# TransformerMixin.fit_transform) sit between the user and the package.
_SKLEARN_BASE = os.path.join(os.path.dirname(os.path.abspath(sklearn.__file__)),
                             "base.py")


def external_stacklevel():
    """Return the ``stacklevel`` of the first frame outside this package.

    For ``warnings.warn(..., stacklevel=external_stacklevel())``: counted from
    the function that calls both, skipping the package's frames,
    scikit-learn's fit wrappers and skorch's (IFFair's updates run in a
    skorch callback), so that a warning raised deep inside ``fit`` names the
    user's call (a fixed level breaks whenever a call chain changes).
    """
    skipped = [_PACKAGE + os.sep]
    skorch = sys.modules.get("skorch")  # only once the user's net imported it
    if getattr(skorch, "__file__", None):
        skipped.append(os.path.dirname(os.path.abspath(skorch.__file__)) + os.sep)
    frame = inspect.currentframe().f_back
    level = 1
    while frame is not None:
        name = frame.f_code.co_filename
        if not (name.startswith(tuple(skipped)) or name == _SKLEARN_BASE):
            return level
        frame, level = frame.f_back, level + 1
    return level
