"""The local chat: the terminal is a channel like the others (`ksbb chat --user NAME`)."""
