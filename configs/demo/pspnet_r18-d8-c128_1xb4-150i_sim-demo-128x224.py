# A small PSPNet (dilated ResNet-18, output stride 8, 128-channel decoder) trained from scratch
# on the mini CAOS scenes that sim.generate makes for `make demo` (StreetHazards layout, 224x128):
# AdamW 1e-3 with poly decay over 150 iterations of 4 images, short side 96-128 (the test images'
# is 128). `make demo` trains its confidence-branch variant (pspnet-conf_..., one network for
# every scorer); this plain one is the base of that config and of configs/outlier/*sim-demo*.
_base_ = [
    "../_base_/models/pspnet_r18-d8.py",
    "../_base_/datasets/streethazards.py",
    "../_base_/schedules/sgd-poly_20e.py",
    "../_base_/default_runtime.py",
]
data_root = "demo_out/data"
iters = 150
model = dict(model=dict(decoder_channels=128, aux_channels=64))
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        transform=dict(name="reference_train", short_sides=(96, 112, 128), max_long=224),
    ),
)
# no validation while training: the evaluation reports the segmentation mIoU
val_dataloader = None
val_evaluator = None
val_cfg = None
optim_wrapper = dict(optimizer=dict(_delete_=True, type="AdamW", lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, max_epochs=None)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=50, max_keep_ckpts=2))
# the scenes are synthetic, read with the StreetHazards-layout loader: reported as "sim-hazards"
evaluation = dict(data_root=data_root, scales=(), name="sim-hazards")
# progress (ProgressBarHook: a bar, or lines in a log) shows training; mmengine's warnings only
log_level = "WARNING"
