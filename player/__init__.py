"""The player page that screens run, and the screen fleet (SPEC A7, A8)."""
