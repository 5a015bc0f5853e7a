# As pspnet_r101-d8_4xb2-80k_cityscapes-512x1024.py on the reference's deep-stem dilated
# ResNet-50 (CSAIL's resnet50dilated, its ImageNet weights; mmsegmentation's pspnet_r50-d8
# Cityscapes recipe).
_base_ = [
    "./_base_/models/pspnet_r50-d8.py",
    "./_base_/datasets/cityscapes_512x1024.py",
    "./_base_/schedules/sgd-poly_80k.py",
    "./_base_/default_runtime.py",
]
model = dict(model=dict(num_classes=19))
sync_bn = "torch"
