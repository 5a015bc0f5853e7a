"""Converting other codebases' trained PSPNets into segood checkpoints that carry their own
model description (`segood.models.load_network` builds them from the file alone).

- `csail`: the CAOS reference's encoder/decoder files (CSAIL's semantic-segmentation-pytorch).
"""

from segood.models.convert.common import save_converted
from segood.models.convert.csail import convert_csail

__all__ = ["convert_csail", "save_converted"]
