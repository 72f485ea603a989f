"""The flows: what happens when an app or a charger asks for something."""
