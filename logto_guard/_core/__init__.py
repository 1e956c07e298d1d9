"""The core: configuration, verification and the one refusal path; no web framework, no extra."""
