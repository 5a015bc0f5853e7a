# The mini CAOS scenes `make demo` generates with sim.generate (224x128, StreetHazards layout,
# read with the StreetHazards loader): 4 images a batch, short side 96-128 (the test images'
# is 128), no validation while training (the evaluation reports the mIoU), evaluation at the
# images' own size. The scenes are synthetic: results are reported as "sim-hazards".
_base_ = ["./streethazards.py"]
data_root = "demo_out/data"
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        transform=dict(name="reference_train", short_sides=(96, 112, 128), max_long=224),
    ),
)
val_dataloader = None
val_evaluator = None
val_cfg = None
evaluation = dict(data_root=data_root, scales=(), name="sim-hazards")
