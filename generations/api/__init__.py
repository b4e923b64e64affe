"""The REST API under ``/api/v1/`` (docs/api.md), built with django-ninja.

``views`` holds the endpoints, ``schemas`` the answers' shapes, ``bodies`` the generation
request bodies (handed to the web form: one validation), ``problems`` the RFC 9457 errors,
``auth`` bearer tokens and the per-token rate limit, ``pagination`` the cursors.
"""
