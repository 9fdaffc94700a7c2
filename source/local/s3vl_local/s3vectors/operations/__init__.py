"""S3 Vectors operations: a validated request body in, the response body out.

The model check (model.validate_input) runs first in the server; the operations add the semantic
checks and call the catalog. Response members follow the botocore output shapes exactly. Each module
holds the operations of one concern as functions named for the API operation, taking the catalog and
the request; HANDLERS finds them by that name.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from ..catalog import Catalog
from . import buckets, indexes, queries, tags, vectors
from .resources import Request, Response

Handler = Callable[[Catalog, Request], Response]

# An operation is a function of one of these modules whose name starts with a capital (the API name).
HANDLERS: dict[str, Handler] = {
    name: function
    for module in (buckets, indexes, tags, vectors, queries)
    for name, function in vars(module).items()
    if name[:1].isupper() and inspect.isfunction(function)
}
