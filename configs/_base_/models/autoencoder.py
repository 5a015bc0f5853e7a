# The AE baseline: 4-level U-Net-shaped autoencoder, spatial latent code, batch norm, no skip
# connection across the bottleneck; trained with a pixel MSE on in-distribution images.
model = dict(
    type="AEModel",
    model=dict(type="AutoEncoder", channels=(32, 64, 128, 256), latent_channels=32, loss="mse"),
    channels_last=False,
)
