# The paper's PSPNet on StreetHazards, layer for layer the CAOS reference's network (deep-stem
# dilated ResNet-101, CSAIL's ImageNet weights), 4 GPUs x 2 images, SyncBN, 20 epochs, SGD lr
# 0.02 momentum 0.9 wd 1e-4 poly 0.9, images 720x1280 (reference multi-scale training).
# torchrun --nproc-per-node 4 tools/train.py \
#     configs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py --launcher pytorch
_base_ = [
    "./_base_/models/pspnet_r101-d8.py",
    "./_base_/datasets/streethazards.py",
    "./_base_/schedules/sgd-poly_20e.py",
    "./_base_/default_runtime.py",
]
model = dict(model=dict(num_classes=13))
sync_bn = "torch"
