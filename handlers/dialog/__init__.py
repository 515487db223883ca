"""The conversation machinery the journeys run on: steps and turns, understanding answers, notifying people."""
