"""Converting other codebases' trained PSPNets into segood checkpoints that carry their own
model description (`segood.models.load_network` builds them from the file alone).

- `csail`: the CAOS reference's encoder/decoder files (CSAIL's semantic-segmentation-pytorch).
- `mmseg`: mmsegmentation's PSPNet R50/R101-d8 checkpoints (e.g. its Cityscapes model zoo).
"""

from segood.models.convert.common import save_converted
from segood.models.convert.csail import convert_csail
from segood.models.convert.mmseg import convert_mmseg

__all__ = ["convert_csail", "convert_mmseg", "save_converted"]
