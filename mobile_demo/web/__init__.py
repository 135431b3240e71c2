"""The phone-browser page: ``python -m mobile_demo.web.serve MODEL_OR_RUN`` builds it if needed and serves it."""
