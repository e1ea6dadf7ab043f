"""Pinned upstream sources: the verified cache, `appliance fetch`, and the image digest lock."""

from appliance.sources.cache import cache_dirs, locate, read_documents, verify_file, write_dir

__all__ = ["cache_dirs", "locate", "read_documents", "verify_file", "write_dir"]
