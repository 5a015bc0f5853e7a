# PSPNet with the per-pixel confidence branch (DeVries & Taylor 2018) on StreetHazards: hint on a
# random half of the samples, lambda starts at 0.1 and adapts toward a budget of 0.3.
_base_ = ["./pspnet_r101-d8_4xb2-20e_streethazards-720x1280.py"]
model = dict(model=dict(confidence_branch=True), confidence=dict(lam=0.1, budget=0.3))
