"""Text processing for recipes: token lists."""
