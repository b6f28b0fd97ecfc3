import type { Transport } from '../core/transport.js';
import { startSimulatorServer, type SimulatorServer } from '../node/simulatorServer.js';
import { sseTransport } from '../transport/sse.js';

/** Where a command's requests go: the endpoint it was given, or the built-in simulator it started. */
export interface Endpoint {
  transport: Transport;
  /** Shown to the user: the base URL, or the simulator and its seed. */
  label: string;
  /** The simulator server, when no endpoint was named and one was started. */
  simulator?: SimulatorServer;
  /** Stops the simulator, if one was started; nothing to do for a real endpoint. */
  close(): Promise<void>;
}

/** Options for {@link openEndpoint}. */
export interface OpenEndpointConfig {
  /** The API root, from a flag or the environment. With it or an `apiKey`, requests go there. */
  baseURL?: string;
  /** The API key, from a flag or the environment. */
  apiKey?: string;
  /** `sse` (fetch + eventsource-parser) or `openai` (the official SDK, loaded only then). @defaultValue "sse" */
  transport?: 'sse' | 'openai';
  /** The simulator to start when neither `baseURL` nor `apiKey` is given. */
  simulator?: { seed?: number; profiles?: string };
}

/** OpenAI's API root: where a key without a base URL goes. */
const OPENAI_API_ROOT = 'https://api.openai.com/v1';

/**
 * The one "a real endpoint, else the simulator" rule of the CLI: with a base URL or an API key, that
 * endpoint (OpenAI's when only a key is given); with neither, the built-in simulator server on a
 * loopback port, so requests go through the real HTTP stack either way. The callers decide what names
 * an endpoint: `rxllm chat` passes its flags over OPENAI_BASE_URL / OPENAI_API_KEY, the demo
 * {@link demoEndpointConfig}.
 */
export async function openEndpoint(config: OpenEndpointConfig): Promise<Endpoint> {
  const { baseURL, apiKey, transport: kind = 'sse' } = config;
  if (!baseURL && !apiKey) {
    const { seed, profiles } = config.simulator ?? {};
    const simulator = await startSimulatorServer({ ...(seed === undefined ? {} : { seed }), ...(profiles ? { profiles } : {}) });
    const transport = await endpointTransport(kind, simulator.baseURL, undefined);
    return { transport, label: `${simulator.baseURL} (built-in simulator, seed ${seed ?? 1})`, simulator, close: () => simulator.close() };
  }
  return { transport: await endpointTransport(kind, baseURL, apiKey), label: baseURL ?? OPENAI_API_ROOT, close: async () => undefined };
}

/**
 * What `rxllm demo` (terminal and web) runs on: with OPENAI_API_KEY, OPENAI_BASE_URL (default OpenAI's);
 * without a key, the simulator, even when OPENAI_BASE_URL is set (unlike `rxllm chat`, where a base URL
 * alone names a keyless endpoint such as a local vLLM or Ollama).
 */
export function demoEndpointConfig(env: Record<string, string | undefined>, simulator: { seed: number; profiles?: string }): OpenEndpointConfig {
  const apiKey = env['OPENAI_API_KEY'];
  return apiKey ? { baseURL: env['OPENAI_BASE_URL'] ?? OPENAI_API_ROOT, apiKey } : { simulator };
}

async function endpointTransport(kind: 'sse' | 'openai', baseURL: string | undefined, apiKey: string | undefined): Promise<Transport> {
  const config = { ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}) };
  if (kind === 'openai') {
    // Loaded only when asked for: the openai SDK is an optional peer.
    const { openaiTransport } = await import('../openai/index.js');
    return openaiTransport({ ...config, apiKey: apiKey ?? 'none' });
  }
  return sseTransport(config);
}
