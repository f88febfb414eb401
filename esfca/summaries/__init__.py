"""Monthly regulatory summaries (rules.md §5–§6): figures, flags, filing, review, documents."""
