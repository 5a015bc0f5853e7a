# Cityscapes (2048x1024, the 19 train ids of the official label table, 255 = void), with
# mmsegmentation's training recipe (its configs/_base_/datasets/cityscapes.py): random rescale
# 0.5-2.0, 512x1024 crop (padded with void when smaller), horizontal flip, colour jitter,
# 2 images per GPU; evaluation at the full 2048x1024. segood's `scale_crop_train` differs from
# mmsegmentation's pipeline in two documented ways: no `cat_max_ratio` re-cropping, and
# albumentations' ColorJitter instead of PhotoMetricDistortion.
# `evaluation` is what tools/eval_caos.py evaluates by default (the val mIoU); fitted scorers
# (SML, KL matching, ...) are fitted on `evaluation.fit`, the training split, also when the
# model is evaluated on the road-anomaly benchmarks (`--dataset smiyc-anomaly ...`).
# Override data_root with `--cfg-options data_root=/path` (it reaches every dataset).
data_root = "data/cityscapes"
ignore_index = 255
crop_size = (512, 1024)
train_dataloader = dict(
    batch_size=2,  # per GPU
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="ResumableInfiniteSampler", shuffle=True),
    collate_fn=dict(type="seg_collate", ignore_index=ignore_index),
    dataset=dict(
        type="SegoodDataset",
        dataset="cityscapes",
        data_root=data_root,
        split="train",
        transform=dict(name="scale_crop_train", crop_size=crop_size, ignore_index=ignore_index),
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
        dataset="cityscapes",
        data_root=data_root,
        split="val",
        transform=dict(name="eval"),
        ignore_index=ignore_index,
    ),
)
val_evaluator = dict(type="MeanIoU", num_classes=19, ignore_index=ignore_index)
val_cfg = dict(type="ValLoop")
evaluation = dict(
    dataset="cityscapes",
    data_root=data_root,
    split="val",
    num_classes=19,
    anomaly_ids=(),
    ignore_index=ignore_index,
    scales=(),  # the image's own size (mmsegmentation tests Cityscapes at 2048x1024)
    fit=dict(dataset="cityscapes", split="train"),  # data_root: the evaluation's
)
