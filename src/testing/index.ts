/* Entry point "rxllm/testing": virtual-time fakes and helpers for testing pipelines. */
export {};
