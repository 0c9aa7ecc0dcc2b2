"""Events in: Segment-spec messages from tracking code, stored whole and applied."""
