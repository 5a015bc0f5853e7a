"""The one exception type for errors a user can cause (paths, formats, configs, inputs).

Tools catch `SegoodError`, print its message (which names the file or value and the fix) and
exit non-zero (`segood.cli.app.command`); everything else is a bug and keeps its traceback.
"""

import re


class SegoodError(ValueError):
    """A problem with the user's input, stated so that the user can fix it."""


def user_message(e: BaseException) -> str:
    """The message of `e` without mmengine's "class `X` in module: " build prefixes (mmengine's
    registry re-raises an error from a constructor with them)."""
    text = str(e.args[0]) if e.args else str(e)
    return re.sub(r"^(class `\w+` in [\w.]+: )+", "", text)
