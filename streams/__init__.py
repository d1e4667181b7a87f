"""The Kafka side of Wirewatch: topics, wire records, the Faust app and agents, the feed poller."""
