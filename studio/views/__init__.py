"""Qt views over the studio's document model."""
