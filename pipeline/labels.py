"""The vocabularies every layer shares: the models' labels and the escalation queue's states and levels.

The models' heads emit labels in this order (models/sentiment.py and models/intent.py take them from here); the
dashboard's filters, analyst corrections and the queue check against these.
"""

from __future__ import annotations

SENTIMENTS = ("negative", "neutral", "positive")
INTENTS = ("question", "failure", "complaint", "praise", "other")

# escalation lifecycle: new → assigned → in_progress → resolved | dismissed (see pipeline.escalate.TRANSITIONS)
STATES = ("new", "assigned", "in_progress", "resolved", "dismissed")
OPEN_STATES = ("new", "assigned", "in_progress")
LEVELS = ("critical", "high", "medium", "low")  # most urgent first
