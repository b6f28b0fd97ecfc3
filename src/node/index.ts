/**
 * Entry point "rxllm/node": Node-only helpers (the simulator server, Server-Sent Events responses).
 *
 * @module rxllm/node
 */
export { startSimulatorServer, type SimulatorServer, type SimulatorServerConfig, type SimulatorStats } from './simulatorServer.js';
export { toServerSentEvents, type ServerSentEventsResume, type ToServerSentEventsConfig } from './toServerSentEvents.js';
export { memoryResumeStore, type MemoryResumeStore, type MemoryResumeStoreConfig } from '../cache/memoryResumeStore.js';
export type { ResumeEvent, ResumeStore } from '../cache/ResumeStore.js';
export { toServerSentEventsResponse } from './toServerSentEventsResponse.js';
export type { ServerSentErrorPayload } from '../transport/fromServerSentEvents.js';
