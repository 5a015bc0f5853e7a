# `make demo`: the autoencoder baseline on the mini CAOS scenes (Adam 1e-3, 400 iterations of 4).
_base_ = [
    "../_base_/models/autoencoder.py",
    "../_base_/datasets/streethazards.py",
    "../_base_/schedules/adam-poly_10e.py",
    "../_base_/default_runtime.py",
]
data_root = "demo_out/data"
iters = 400
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        transform=dict(name="reference_train", short_sides=(112, 128, 144), max_long=256),
    ),
)
val_dataloader = None
val_evaluator = None
val_cfg = None
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, max_epochs=None)
default_hooks = dict(logger=dict(interval=50), checkpoint=dict(interval=100, max_keep_ckpts=2))
evaluation = dict(data_root=data_root, scales=())
# the progress bar (ProgressBarHook) shows training; only warnings from mmengine's logger
log_level = "WARNING"
