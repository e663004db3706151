"""Request and response models of the API, one family per entity."""
