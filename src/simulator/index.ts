/**
 * Entry point "rxllm/simulator": the built-in simulated model, in process. `simulatedTransport` runs it
 * on RxJS scheduler timers (so also in virtual time); the profiles set its latency, length and faults
 * per model name. The same simulator over real HTTP is `startSimulatorServer` from "rxllm/node".
 *
 * @module rxllm/simulator
 */
export { simulatedTransport, type SimulatedTransportConfig } from './simulatedTransport.js';
export {
  defaultSimulatorProfiles,
  parseSimulatorProfiles,
  type SimulatorProfile,
  type SimulatorProfiles,
  type SimulatorFault,
  type FaultTrigger,
} from './profiles.js';
export type { SimulatorDistribution, SimulatorTail } from './latency.js';
