"""Conversation flows: channel-free, one module per journey, states declared in one table each."""

from handlers import language, menu
from handlers.dialog import Step

STEPS: dict[str, Step] = {**menu.STEPS, **language.STEPS}
