"""Coordinator and admin journeys: every action checks role and scope on the server side."""

COORDINATOR_MENU = "coord.menu"  # the coordinator menu's state; journeys return here when done
