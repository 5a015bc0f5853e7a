"""The one exception type for errors a user can cause (paths, formats, configs, inputs).

Tools catch `SegoodError`, print its message (which names the file or value and the fix) and
exit non-zero; everything else is a bug and keeps its traceback.
"""


class SegoodError(ValueError):
    """A problem with the user's input, stated so that the user can fix it."""
