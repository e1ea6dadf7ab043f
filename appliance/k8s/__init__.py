"""The Kubernetes vocabulary every layer shares: object data, refs, selectors, images, quantities."""
