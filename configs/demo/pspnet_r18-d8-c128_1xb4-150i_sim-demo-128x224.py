# A small PSPNet (dilated ResNet-18, output stride 8, 128-channel decoder) trained from scratch
# on the mini CAOS scenes of `make demo`: AdamW 1e-3 with poly decay over 150 iterations of 4
# images. `make demo` trains its confidence-branch variant (pspnet-conf_..., one network for
# every scorer); this plain one is the base of that config and of configs/outlier/*sim-demo*.
_base_ = [
    "../_base_/models/pspnet_r18-d8.py",
    "../_base_/datasets/sim-demo_128x224.py",
    "../_base_/schedules/sgd-poly_20e.py",
    "../_base_/default_runtime.py",
]
iters = 150
model = dict(model=dict(decoder_channels=128, aux_channels=64))
optim_wrapper = dict(optimizer=dict(_delete_=True, type="AdamW", lr=1e-3, weight_decay=1e-4))
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, max_epochs=None)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=50, max_keep_ckpts=2))
# progress (ProgressBarHook: a bar, or lines in a log) shows training; mmengine's warnings only
log_level = "WARNING"
