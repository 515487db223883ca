"""Documents the bot hands out: commitment letters, data exports and charts."""
