/* Entry point "rxllm/node": Node-only helpers (servers, SSE responses). */
export {};
