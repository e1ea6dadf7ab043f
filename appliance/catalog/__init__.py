"""The component catalog: pinned sources, trims, rewiring, network allows and exceptions."""

from appliance.catalog.decode import CATALOG_PATH, load_catalog
from appliance.catalog.model import (
    Allow,
    ApiServerAccess,
    Catalog,
    Component,
    CredentialSpec,
    ExceptionSpec,
    GitPin,
    Patch,
    Peer,
    ResourceRef,
    Source,
    SourceUse,
)

__all__ = [
    "CATALOG_PATH",
    "Allow",
    "ApiServerAccess",
    "Catalog",
    "Component",
    "CredentialSpec",
    "ExceptionSpec",
    "GitPin",
    "Patch",
    "Peer",
    "ResourceRef",
    "Source",
    "SourceUse",
    "load_catalog",
]
