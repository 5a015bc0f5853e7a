# A tiny CPU run for tests and the demo: ResNet-18 PSPNet, 1 process x 2 images, 4 iterations,
# images rescaled to a short side of 32-40 px, a checkpoint every 2 iterations.
# python tools/train.py configs/pspnet_r18-d8_1xb2-tiny_streethazards.py \
#     --cfg-options data_root=/path/to/streethazards
_base_ = [
    "./_base_/models/pspnet_r18-d8.py",
    "./_base_/datasets/streethazards.py",
    "./_base_/schedules/sgd-poly_20e.py",
    "./_base_/default_runtime.py",
]
data_root = "data/streethazards-tiny"
tiny_train = dict(name="reference_train", short_sides=(32, 40), max_long=80)
tiny_eval = dict(name="eval", size=(32, 48))
train_dataloader = dict(
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, transform=tiny_train),
)
val_dataloader = dict(
    batch_size=2,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(data_root=data_root, transform=tiny_eval),
)
evaluation = dict(data_root=data_root)
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=0.0, begin=0, end=4, by_epoch=False)]
train_cfg = dict(max_iters=4, max_epochs=None, val_interval=4)
default_hooks = dict(
    logger=dict(interval=1),
    checkpoint=dict(interval=2, max_keep_ckpts=3),
)
log_processor = dict(window_size=1)
