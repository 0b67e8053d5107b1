"""A card's timeline lines: one-line messages, progress bars, the kind of a send, the browser's form."""

from __future__ import annotations

from jacws.inbox import Sent
from jacws.widgets.timeline import Entry, one_line, progress_of, sent_kind


def test_a_message_in_one_line_starts_with_its_type_and_is_cut() -> None:
    assert one_line({"type": "chat", "text": "hi"}) == 'chat {"text":"hi"}'
    assert one_line({"type": "ping"}) == "ping" and one_line([1]) == "[1]"
    long = one_line({"type": "t", "x": "y" * 200}, limit=20)
    assert len(long) == 20 and long.endswith("…")


def test_progress_is_read_from_numbers_and_percent_texts_and_clamped() -> None:
    assert progress_of({"progress": "40%", "status": "copying"}) == {"value": 40.0, "status": "copying"}
    assert progress_of({"progress": 250}) == {"value": 100.0, "status": ""}
    assert progress_of({"progress": "soon"}) is None and progress_of({"type": "chat"}) is None


def test_a_send_is_filtered_by_its_type_and_an_entry_shows_milliseconds() -> None:
    assert sent_kind(Sent({"type": "channel"}, 0.0)) == "channel"
    assert sent_kind(Sent({"type": "made-up"}, 0.0)) == "notification"
    entry = Entry("in3", False, 1.0, "channel", "chat", "channel lobby", "{}", 0.0125).to_dict()
    assert entry["dir"] == "in" and entry["latency"] == 12.5 and entry["key"] == "in3"
