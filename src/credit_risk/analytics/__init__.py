"""Analytics on the published snapshot: features, models and their monitoring."""
