# The tiny CPU run of the autoencoder baseline (Adam 1e-3, 4 iterations, no validation).
_base_ = [
    "./_base_/models/autoencoder.py",
    "./_base_/datasets/streethazards.py",
    "./_base_/schedules/adam-poly_10e.py",
    "./_base_/default_runtime.py",
]
data_root = "data/streethazards-tiny"
model = dict(model=dict(channels=(8, 16, 32, 64), latent_channels=8))
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        transform=dict(name="reference_train", short_sides=(32, 40), max_long=80),
    ),
)
val_dataloader = None
val_evaluator = None
val_cfg = None
evaluation = dict(data_root=data_root)
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=4, by_epoch=False)]
train_cfg = dict(max_iters=4, max_epochs=None)
default_hooks = dict(logger=dict(interval=1), checkpoint=dict(interval=2, max_keep_ckpts=3))
log_processor = dict(window_size=1)
