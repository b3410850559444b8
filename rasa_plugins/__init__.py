"""What runs inside the Rasa server, in Rasa's environment (.venv-rasa): the channels
(REST, the widget's socket.io, Telegram), the escalation policy, the question/request
router, the SQL event broker, the tracker and lock stores, and the model loading. Named in
config.yml, endpoints.yml and credentials.yml; imports no other part but ``contract``."""
