"""Python inference APIs with ``from_pretrained`` (Speech2Text, ...)."""
