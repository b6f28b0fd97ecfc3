// The simulator server in its own process, for bench/simulator-fidelity.ts: it measures its own
// event loop (monitorEventLoopDelay), so the figures are the server's, not the load generator's.
// Talks to the parent over IPC: sends { port } once listening; answers 'reset' and 'report'.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startSimulatorServer } from '../src/node/simulatorServer';

const RESOLUTION_MS = 10;

/** Event-loop stalls: how much later than due the monitor's timer ran. */
interface LoopReport {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
}

async function main(): Promise<void> {
  const server = await startSimulatorServer({ seed: Number(process.env['SIM_SEED'] ?? 1) });
  const loop = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  loop.enable();
  // The histogram holds the time between its timer's runs, the sampling interval included (a
  // quiet loop reads 10 ms at resolution 10, not 0); the stall is what exceeds the interval.
  // Node APM agents subtract it the same way (open-telemetry/opentelemetry-js-contrib#2794).
  const toStallMs = (ns: number) => Math.max(0, Math.round((ns / 1e6 - RESOLUTION_MS) * 100) / 100);
  let cpuAtReset = process.cpuUsage();
  process.on('message', (message: unknown) => {
    if (message === 'reset') {
      cpuAtReset = process.cpuUsage();
      loop.reset();
      server.resetStats();
      process.send!({ type: 'reset' });
    } else if (message === 'report') {
      const report: LoopReport = { maxMs: toStallMs(loop.max), p99Ms: toStallMs(loop.percentile(99)), meanMs: toStallMs(loop.mean) };
      const cpu = process.cpuUsage(cpuAtReset);
      process.send!({ type: 'report', loop: report, stats: server.stats(), cpuSeconds: (cpu.user + cpu.system) / 1e6 });
    } else if (message === 'stop') {
      loop.disable();
      void server.close().then(() => process.exit(0));
    }
  });
  process.send!({ type: 'listening', port: server.port });
}

void main();
