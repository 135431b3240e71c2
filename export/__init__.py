"""Export trained keras_tl models for phones and edge boards."""
