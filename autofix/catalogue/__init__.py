"""One module per transform; each defines one autofix.transform.Transform subclass."""
