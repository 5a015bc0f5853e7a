# BDD-Anomaly (1280x720, built by tools/make_bdd_anomaly.py): 17 trained classes (other + 16
# known); anomaly = train, motorcycle, bicycle (ids 17, 18, 19), test split only.
# Training follows the reference recipe: short side from {300, ..., 600}, long side <= 1000,
# flip, padded to a multiple of 8 (no crop). Override data_root with
# `--cfg-options data_root=/path` (it reaches every dataset and `evaluation`).
data_root = "data/bdd_anomaly"
ignore_index = 255
train_dataloader = dict(
    batch_size=2,  # per GPU
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="ResumableInfiniteSampler", shuffle=True),
    collate_fn=dict(type="seg_collate", ignore_index=ignore_index, size_divisor=8),
    dataset=dict(
        type="SegoodDataset",
        dataset="bdd_anomaly",
        data_root=data_root,
        split="train",
        transform=dict(name="reference_train"),
        ignore_index=ignore_index,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="seg_collate", ignore_index=ignore_index),
    dataset=dict(
        type="SegoodDataset",
        dataset="bdd_anomaly",
        data_root=data_root,
        split="val",
        transform=dict(name="eval"),
        ignore_index=ignore_index,
    ),
)
val_evaluator = dict(type="MeanIoU", num_classes=17, ignore_index=ignore_index)
val_cfg = dict(type="ValLoop")
# what tools/evaluate needs about the test split (anomaly = 17, 18, 19)
evaluation = dict(
    dataset="bdd_anomaly",
    data_root=data_root,
    split="test",
    num_classes=17,
    anomaly_ids=(17, 18, 19),
    ignore_index=ignore_index,
)
