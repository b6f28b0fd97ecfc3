/* Entry point "rxllm/node": Node-only helpers (the simulator server, Server-Sent Events responses). */
export { startSimulatorServer, type SimulatorServer, type SimulatorServerConfig, type SimulatorStats } from './simulatorServer.js';
