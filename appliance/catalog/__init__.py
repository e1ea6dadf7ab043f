"""The component catalog: pinned sources, trims, rewiring, network allows and exceptions."""

from appliance.catalog.decode import CATALOG_PATH, load_catalog

__all__ = ["CATALOG_PATH", "load_catalog"]
