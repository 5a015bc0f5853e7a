# Autoencoder schedule: 10 epochs (paper). The paper names no optimiser for the AE; Adam lr 1e-3
# with poly decay (power 0.9) is used.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="Adam", lr=1e-3, weight_decay=0.0),
    clip_grad=None,
)
param_scheduler = [
    dict(
        type="PolyLR",
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=10,
        by_epoch=True,
        convert_to_iter_based=True,
    )
]
train_cfg = dict(type="SegIterLoop", max_epochs=10, val_interval=2000)
