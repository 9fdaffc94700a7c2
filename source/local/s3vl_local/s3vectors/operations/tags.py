"""Tag operations on a vector bucket or index, named by its ARN."""

from __future__ import annotations

from ..catalog import Catalog
from .resources import Request, Response


def ListTagsForResource(catalog: Catalog, req: Request) -> Response:
    return {"tags": catalog.tags(req["resourceArn"])}


def TagResource(catalog: Catalog, req: Request) -> Response:
    catalog.change_tags(req["resourceArn"], req["tags"], [])
    return {}


def UntagResource(catalog: Catalog, req: Request) -> Response:
    catalog.change_tags(req["resourceArn"], {}, list(req["tagKeys"]))
    return {}
