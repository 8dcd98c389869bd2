"""Selection: semantic deduplication, diversity and target-aware sampling to a budget."""
