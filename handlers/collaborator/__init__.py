"""Collaborator journeys: sign-up, browsing target RWs, pledging, and following one's pledges."""
