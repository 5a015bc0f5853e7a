# Outlier exposure (Hendrycks et al., ICLR 2019) of the paper's PSPNet on StreetHazards
# (configs/pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py) for 4 epochs at a tenth of its
# learning rate, with 1-3 cut-outs pasted into every training image (labelled 254 =
# segood.data.paste.OUTLIER_INDEX). The cut-out folder (RGBA PNGs, alpha = object mask) is
# given on the command line: e.g. the sim props reserved for outlier exposure
# (python tools/make_outlier_sprites.py --out data/outlier_sprites --size 256 --count 2000)
# or any other object cut-outs that are not StreetHazards anomalies.
# loss = CE on in-distribution pixels + 0.5 * mean over outlier pixels of the cross-entropy to
# the uniform distribution (-mean_k log softmax_k).
# Everything but the loss is the energy fine-tuning config's.
#     torchrun --nproc-per-node 4 tools/train.py \
#         configs/outlier/pspnet_r101-d8_4xb2-4e-oe-ft_streethazards-720x1280.py \
#         --launcher pytorch \
#         --cfg-options data_root=data/streethazards outlier_sprites=CUTOUTS load_from=CKPT
_base_ = ["./pspnet_r101-d8_4xb2-4e-energy-ft_streethazards-720x1280.py"]
model = dict(outlier=dict(type="oe", weight=0.5))
