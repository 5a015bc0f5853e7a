# Energy-bounded fine-tuning (Liu et al., NeurIPS 2020) of the paper's PSPNet on StreetHazards
# (configs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py) for 4 epochs at a tenth of its
# learning rate, with 1-3 cut-outs pasted into every training image (labelled 254 =
# segood.data.paste.OUTLIER_INDEX). The cut-out folder (RGBA PNGs, alpha = object mask) is
# given on the command line: e.g. the sim props reserved for outlier exposure
# (python tools/make_outlier_sprites.py --out data/outlier_sprites --size 256 --count 2000)
# or any other object cut-outs that are not StreetHazards anomalies.
# loss = CE + 0.1 * [mean_in relu(E - m_in)^2 + mean_out relu(m_out - E)^2] per pixel, with
# m_in, m_out = mean -/+ std of the pre-trained model's in-distribution pixel energies on the
# first fine-tuning batch (segood.models.outlier_losses.relative_margins).
#     torchrun --nproc-per-node 4 tools/train.py \
#         configs/outlier/pspnet_r101-d8_4xb2-4e-energy-ft_streethazards-720x1280.py \
#         --launcher pytorch \
#         --cfg-options data_root=/data/streethazards outlier_sprites=/data/outlier_sprites \
#         load_from=work_dirs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280/iter_12820.pth
_base_ = ["../pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py"]
epochs = 4
outlier_sprites = "data/outlier_sprites"
# the final checkpoint of the 20-epoch run on 4 processes (641 iterations per epoch)
load_from = "work_dirs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280/iter_12820.pth"
model = dict(
    model=dict(pretrained=None),  # every weight comes from load_from
    outlier=dict(type="energy", weight=0.1),  # margins: from the pre-trained ID energies
)
train_dataloader = dict(
    dataset=dict(
        transform=dict(paste=dict(folder=outlier_sprites, count=(1, 3), scale=(0.05, 0.25))),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=0.002))
param_scheduler = [
    dict(
        type="PolyLR",
        power=0.9,
        eta_min=0.0,
        begin=0,
        end=epochs,
        by_epoch=True,
        convert_to_iter_based=True,
    )
]
train_cfg = dict(max_epochs=epochs)
