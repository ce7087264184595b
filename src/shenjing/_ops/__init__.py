"""The differentiable primitives, grouped by kind. ``Tensor`` methods and the ``shenjing``
namespace both call these functions."""

from shenjing._ops._util import normalize_dim, normalize_dims
from shenjing._ops.elementwise import *  # noqa: F401,F403
from shenjing._ops.elementwise import abs, cast, clone, pow, round  # noqa: F401  (names shadowing builtins)
from shenjing._ops.compare import *  # noqa: F401,F403
from shenjing._ops.shape import *  # noqa: F401,F403
from shenjing._ops.index import *  # noqa: F401,F403
from shenjing._ops.reduce import *  # noqa: F401,F403
from shenjing._ops.reduce import all, any, max, min, sum  # noqa: F401
from shenjing._ops.linalg import *  # noqa: F401,F403
from shenjing._ops.matrix import *  # noqa: F401,F403
from shenjing._ops.decomposition import *  # noqa: F401,F403
from shenjing._ops.arrange import *  # noqa: F401,F403
from shenjing._ops.combine import *  # noqa: F401,F403
from shenjing._ops.activation import *  # noqa: F401,F403
from shenjing._ops.sort import *  # noqa: F401,F403
from shenjing._ops.special import *  # noqa: F401,F403
from shenjing._ops.gamma import *  # noqa: F401,F403
from shenjing._ops.binary import *  # noqa: F401,F403  (after linalg: its n-d ``inner`` replaces dot's alias)
from shenjing._ops.statistics import *  # noqa: F401,F403
from shenjing._ops.scan import *  # noqa: F401,F403
from shenjing._ops.inplace import *  # noqa: F401,F403
from shenjing._creation import *  # noqa: F401,F403
# breadth of PyTorch's API (issue 18): scatter-like writes, strided views, products, queries
from shenjing._ops.scatter_more import *  # noqa: F401,F403
from shenjing._ops.strided import *  # noqa: F401,F403
from shenjing._ops.products import *  # noqa: F401,F403
from shenjing._ops.queries import *  # noqa: F401,F403
