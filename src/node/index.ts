/**
 * Entry point "rxllm/node": Node-only helpers (the simulator server, Server-Sent Events responses).
 *
 * @module rxllm/node
 */
export { startSimulatorServer, type SimulatorServer, type SimulatorServerConfig, type SimulatorStats } from './simulatorServer.js';
export { toServerSentEvents, type ToServerSentEventsConfig } from './toServerSentEvents.js';
export { toServerSentEventsResponse } from './toServerSentEventsResponse.js';
export type { ServerSentErrorPayload } from '../transport/fromServerSentEvents.js';
