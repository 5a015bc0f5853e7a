# `make demo`: the same small PSPNet with the confidence branch (lambda 0.1, budget 0.3).
_base_ = ["./pspnet_r18-d8-c128_1xb4-240i_sim-demo-128x224.py"]
model = dict(model=dict(confidence_branch=True), confidence=dict(lam=0.1, budget=0.3))
