"""One module per transform; each defines one autofix.rule.Rule subclass."""
