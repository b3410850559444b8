"""Service-quality metrics: the durable record of what happened (``tables``), the numbers
computed from it (``compute``) and unanswered questions grouped by meaning (``clusters``)."""
