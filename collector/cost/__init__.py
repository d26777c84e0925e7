"""Cost in USD of LLM spans, computed at ingestion (docs/mapping.md#cost).

settings.py is the `cost:` section of config.yaml; rates.py finds a model's per-token prices
(config overrides, then the genai-prices package); span_cost.py prices one span. No store and
no HTTP here: the decode workers call it while they build a request's Arrow batch.
"""
