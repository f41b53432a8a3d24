"""The SDK's result models, one module per API resource (see `base` for why they are the SDK's own)."""
