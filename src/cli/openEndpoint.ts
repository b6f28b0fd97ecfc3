import type { Transport } from '../core/transport.js';
import { startSimulatorServer, type SimulatorServer } from '../node/simulatorServer.js';
import { sseTransport } from '../transport/sse.js';

/** Where the demo's requests go: a real endpoint, or the built-in simulator it started (close it when done). */
export interface DemoEndpoint {
  transport: Transport;
  /** Shown to the user: the base URL, or the simulator and its seed. */
  label: string;
  simulator?: SimulatorServer;
}

/**
 * With OPENAI_API_KEY, the real endpoint (OPENAI_BASE_URL, default OpenAI's); without it, the
 * simulator server on a loopback port, so the demo goes through the real HTTP stack either way.
 */
export async function openDemoEndpoint(
  env: Record<string, string | undefined>,
  simulated: { seed: number; profiles?: string },
): Promise<DemoEndpoint> {
  const apiKey = env['OPENAI_API_KEY'];
  if (apiKey) {
    const baseURL = env['OPENAI_BASE_URL'] ?? 'https://api.openai.com/v1';
    return { transport: sseTransport({ baseURL, apiKey }), label: baseURL };
  }
  const simulator = await startSimulatorServer({ seed: simulated.seed, ...(simulated.profiles ? { profiles: simulated.profiles } : {}) });
  return { transport: sseTransport({ baseURL: simulator.baseURL }), label: `${simulator.baseURL} (built-in simulator, seed ${simulated.seed})`, simulator };
}
