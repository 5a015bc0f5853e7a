"""Anomaly-segmentation evaluation: score maps -> every scorer -> the benchmarks' metrics.

Entry points: `segood.evaluation.api.evaluate(EvalOptions(...))` (a model) and
`segood.evaluation.predictions_api.evaluate_predictions(EvalOptions(...))` (saved predictions),
which tools/eval_caos.py calls. One run covers one dataset or several (CAOS, the road-anomaly
benchmarks, Cityscapes), each under its leaderboard's protocol (`benchmarks`), with one report.
"""
