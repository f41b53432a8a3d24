"""The SDK's operations as plans (see `elasticthought.client.calls`), one module per API resource."""
