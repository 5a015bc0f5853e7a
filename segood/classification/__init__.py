"""Classification OOD benchmarks with segood's scorers: a classifier's logits (N, C) are scored
as (N, C, 1, 1) images by the same registry objects, with the same metrics and reports.

Modules (one concept each): `conventions` (segood / OpenOOD / pytorch-ood metrics),
`logits_io` (saved .npz outputs), `pipeline` (scorer selection, scoring, the OOD benchmark),
`report` (table, JSON/CSV/MD, ROC/PR), `synthetic_ood` (Gaussian, Rademacher, Blobs), `models`
(SmallCNN, torchvision/timm checkpoints, MC-dropout passes), `folders` (image folders),
`feature_detectors` (iForest, LOF), `multilabel`, `holdout`, `training`, `energy_finetune`,
and `cli` (the subcommands of tools/eval_cls.py).
"""
