"""The handoff service: escalations from the assistant, the agent queue and the agent console.

Runs in the services environment (``python -m bot handoff``); it talks to Rasa only over
Rasa's HTTP API and its event broker table, never by importing Rasa.
"""
