"""Pure detection: watchlists, the spaCy pipeline and the rules. No Kafka, Faust, HTTP or Slack."""
