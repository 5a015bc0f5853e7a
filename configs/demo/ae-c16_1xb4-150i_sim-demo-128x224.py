# `make demo`: a small autoencoder baseline (channels 16-128, latent 16) on the mini CAOS scenes:
# Adam 1e-3 with poly decay over 150 iterations of 4 images.
_base_ = [
    "../_base_/models/autoencoder.py",
    "../_base_/datasets/sim-demo_128x224.py",
    "../_base_/schedules/adam-poly_10e.py",
    "../_base_/default_runtime.py",
]
iters = 150
model = dict(model=dict(channels=(16, 32, 64, 128), latent_channels=16))
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=iters, by_epoch=False)]
train_cfg = dict(max_iters=iters, max_epochs=None)
default_hooks = dict(logger=dict(interval=25), checkpoint=dict(interval=50, max_keep_ckpts=2))
log_level = "WARNING"
