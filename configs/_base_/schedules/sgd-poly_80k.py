# mmsegmentation's 80k schedule (configs/_base_/schedules/schedule_80k.py): SGD lr 0.01,
# momentum 0.9, weight decay 5e-4, poly decay (power 0.9) to 1e-4 over 80,000 iterations,
# a validation every 8,000.
optim_wrapper = dict(
    type="OptimWrapper",  # "AmpOptimWrapper" for mixed precision on GPUs
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=5e-4),
    clip_grad=None,
)
param_scheduler = [
    dict(type="PolyLR", power=0.9, eta_min=1e-4, begin=0, end=80000, by_epoch=False),
]
train_cfg = dict(type="SegIterLoop", max_iters=80000, val_interval=8000)
