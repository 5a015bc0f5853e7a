"""The CAOS evaluation: model outputs -> every scorer -> per-image / pooled / component metrics.

Entry point: `segood.evaluation.api.evaluate(EvalOptions(...))`, which tools/eval_caos.py calls.
"""
