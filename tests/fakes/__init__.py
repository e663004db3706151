"""Local stand-ins for hosted APIs the tests cannot reach (speaking their wire formats)."""
