"""Dialogue policies loaded by the Rasa server (they import only what Rasa's environment has)."""
