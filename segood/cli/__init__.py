"""The command-line layer: one module per tool, each with a `main(argv) -> int` that
`[project.scripts]` installs (segood-train, segood-eval-cls, ...) and `tools/*.py` call.

The tools share one front for what they have in common (`segood.cli.app`, `options`, `config`,
`distributed`): a SegoodError becomes one `error: ...` line and exit status 2, Ctrl-C one line
and exit status 130; `--cfg-options`, `--device` and `--launcher` are declared, checked and
applied the same way in every tool that takes them.
"""
