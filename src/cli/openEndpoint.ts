import { RxllmError } from '../core/errors.js';
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
  /** Loads the `rxllm/openai` entry (and with it the optional `openai` peer); tests make it fail. */
  loadOpenai?: () => Promise<OpenaiEntry>;
}

type OpenaiEntry = typeof import('../openai/index.js');

/** OpenAI's API root: where a key without a base URL goes. */
const OPENAI_API_ROOT = 'https://api.openai.com/v1';

/**
 * The one "a real endpoint, else the simulator" rule of the CLI: with a base URL or an API key, that
 * endpoint (OpenAI's when only a key is given; a base URL alone is a keyless server such as Ollama,
 * vLLM or `rxllm serve`); with neither, the built-in simulator server on a loopback port, so
 * requests go through the real HTTP stack either way. Every command names its endpoint with
 * {@link endpointConfig}. Rejects with an `invalid-config` error naming `npm install openai` when
 * `transport: 'openai'` is asked for without the `openai` package, before any simulator is started.
 */
export async function openEndpoint(config: OpenEndpointConfig): Promise<Endpoint> {
  const { baseURL, apiKey, transport: kind = 'sse' } = config;
  // The SDK is loaded first: a missing optional peer fails here, with nothing started that would keep the process alive.
  const make = kind === 'openai' ? await openaiFactory(config.loadOpenai ?? (() => import('../openai/index.js'))) : sseTransport;
  if (!baseURL && !apiKey) {
    const { seed, profiles } = config.simulator ?? {};
    const simulator = await startSimulatorServer({ ...(seed === undefined ? {} : { seed }), ...(profiles ? { profiles } : {}) });
    return {
      transport: make({ baseURL: simulator.baseURL }),
      label: `${simulator.baseURL} (built-in simulator, seed ${seed ?? 1})`,
      simulator,
      close: () => simulator.close(),
    };
  }
  const transport = make({ ...(baseURL ? { baseURL } : {}), ...(apiKey ? { apiKey } : {}) });
  return { transport, label: baseURL ?? OPENAI_API_ROOT, close: async () => undefined };
}

/**
 * Where every command (`rxllm chat`, `rxllm demo`, `rxllm demo --web`) sends its requests: the
 * flags over `OPENAI_BASE_URL` / `OPENAI_API_KEY`. A base URL without a key is a keyless local
 * server; a key without a base URL is OpenAI; neither is the built-in `simulator`.
 */
export function endpointConfig(
  env: Record<string, string | undefined>,
  flags: { baseURL?: string | undefined; apiKey?: string | undefined },
  simulator?: { seed?: number; profiles?: string },
): OpenEndpointConfig {
  const baseURL = flags.baseURL || env['OPENAI_BASE_URL'];
  const apiKey = flags.apiKey || env['OPENAI_API_KEY'];
  if (!baseURL && !apiKey) return simulator ? { simulator } : {};
  return { ...(baseURL ? { baseURL } : apiKey ? { baseURL: OPENAI_API_ROOT } : {}), ...(apiKey ? { apiKey } : {}) };
}

type TransportFactory = (config: { baseURL?: string; apiKey?: string }) => Transport;

async function openaiFactory(load: () => Promise<OpenaiEntry>): Promise<TransportFactory> {
  let entry: OpenaiEntry;
  try {
    entry = await load();
  } catch (error) {
    throw new RxllmError(
      'invalid-config',
      'transport "openai" needs the openai package, an optional peer dependency of rxllm: run npm install openai (or use --transport sse, which needs nothing more)',
      { cause: error },
    );
  }
  // A keyless server still needs some key for the SDK's constructor.
  return (config) => entry.openaiTransport({ ...config, apiKey: config.apiKey ?? 'none' });
}
