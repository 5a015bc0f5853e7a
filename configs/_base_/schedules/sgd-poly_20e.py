# The paper's schedule: SGD momentum 0.9, lr 0.02, weight decay 1e-4, poly decay (power 0.9)
# over 20 epochs (per iteration; an epoch = one pass over the training set on all processes).
optim_wrapper = dict(
    type="OptimWrapper",  # "AmpOptimWrapper" for mixed precision on GPUs
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=None,
)
param_scheduler = [
    dict(
        type="PolyLR",
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=20,
        by_epoch=True,
        convert_to_iter_based=True,
    )
]
train_cfg = dict(type="SegIterLoop", max_epochs=20, val_interval=2000)
