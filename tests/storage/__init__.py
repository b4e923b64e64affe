"""Tests of the media storage: local serving with Range, web-server hand-off, S3."""
