"""Operating the service: the status page (queue depths, workers, what runs) and /readyz. No models."""
