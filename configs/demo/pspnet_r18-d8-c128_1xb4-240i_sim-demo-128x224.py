# `make demo`: a small PSPNet (dilated ResNet-18, output stride 8, 128-channel decoder) trained
# from scratch on the mini CAOS scenes that sim.generate makes (StreetHazards layout, 224x128).
# AdamW 1e-3 with poly decay over 240 iterations of 4 images: a few minutes on a laptop CPU.
_base_ = [
    "../_base_/models/pspnet_r18-d8.py",
    "../_base_/datasets/streethazards.py",
    "../_base_/schedules/sgd-poly_20e.py",
    "../_base_/default_runtime.py",
]
data_root = "demo_out/data"
iters = 240
model = dict(model=dict(decoder_channels=128, aux_channels=64))
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        transform=dict(name="reference_train", short_sides=(112, 128, 144), max_long=256),
    ),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root),
)
optim_wrapper = dict(optimizer=dict(_delete_=True, type="AdamW", lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, max_epochs=None, val_interval=iters)
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=60, max_keep_ckpts=2))
evaluation = dict(data_root=data_root, scales=())
# the progress bar (ProgressBarHook) shows training; only warnings from mmengine's logger
log_level = "WARNING"
