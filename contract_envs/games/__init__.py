"""The rules of every game: one module per game, its docstring is the game's documentation page."""
