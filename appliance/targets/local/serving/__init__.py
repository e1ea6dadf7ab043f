"""The local serving engine: stub model servers behind stable front proxies on 127.0.0.1."""
