# The autoencoder baseline on StreetHazards in-distribution training images, 10 epochs, 4 GPUs x 2.
# The paper gives no optimiser for the AE: Adam lr 1e-3 with poly decay (see the schedule).
_base_ = [
    "./_base_/models/autoencoder.py",
    "./_base_/datasets/streethazards.py",
    "./_base_/schedules/adam-poly_10e.py",
    "./_base_/default_runtime.py",
]
# no validation metric for the AE (its score is evaluated by the anomaly benchmark)
val_dataloader = None
val_evaluator = None
val_cfg = None
sync_bn = "torch"
