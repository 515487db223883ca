"""Coordinator and admin journeys: every action checks role and scope on the server side."""
