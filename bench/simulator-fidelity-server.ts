// The simulator server in its own process, for bench/simulator-fidelity.ts: it measures its own
// event loop (monitorEventLoopDelay), so the figures are the server's, not the load generator's.
// Talks to the parent over IPC: sends { port } once listening; answers 'reset' and 'report'.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { startSimulatorServer } from '../src/node/simulatorServer';

interface LoopReport {
  maxMs: number;
  p99Ms: number;
  meanMs: number;
}

async function main(): Promise<void> {
  const server = await startSimulatorServer({ seed: Number(process.env['SIM_SEED'] ?? 1) });
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const toMs = (ns: number) => Math.round((ns / 1e6) * 100) / 100;
  let cpuAtReset = process.cpuUsage();
  process.on('message', (message: unknown) => {
    if (message === 'reset') {
      cpuAtReset = process.cpuUsage();
      loop.reset();
      server.resetStats();
      process.send!({ type: 'reset' });
    } else if (message === 'report') {
      const report: LoopReport = { maxMs: toMs(loop.max), p99Ms: toMs(loop.percentile(99)), meanMs: toMs(loop.mean) };
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
