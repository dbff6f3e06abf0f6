"""Code retrieval: packaged models, encoders, gold ranks and metrics, live search, and the retrieval run kinds."""
