// The types the demo's files share, in one file below all of them, so no two demo files import each other.
import type { Transport } from '../../core/transport.js';
import type { SimulatorServer } from '../../node/simulatorServer.js';
import type { contentAnalysisPipeline } from './pipeline.js';

/** Where `rxllm demo` writes; tests pass their own. */
export interface DemoIo {
  stdout: { write(chunk: string): unknown; isTTY?: boolean; columns?: number };
  stderr: { write(chunk: string): unknown };
  env: Record<string, string | undefined>;
  /** Stops `--web` when aborted. Without it, SIGINT and SIGTERM stop it. */
  until?: AbortSignal;
}

/** The article's pipeline, as `contentAnalysisPipeline` builds it. */
export type DemoPipeline = ReturnType<typeof contentAnalysisPipeline>;

/** Options for `runTechniques` (techniques.ts); every section takes them. */
export interface TechniquesConfig {
  /**
   * The demo's endpoint, without the per-step `measure()` of the pipeline runs: every section
   * composes its own middleware over it.
   */
  transport: Transport;
  /**
   * The simulator server the demo started, when it did. With it, upstream calls are counted by
   * its `/stats`, every section runs on a short simulated profile it states (a per-request
   * `rxllm_sim` override), and hedging and routing run. Without it (a real endpoint), a counting
   * middleware counts the calls, the model's own latency applies, and hedging and routing are
   * skipped (they need a heavy-tailed profile and two deployments).
   */
  server?: SimulatorServer;
  /** The model of sections 1 and 3, and of the hedging run. */
  model: string;
  /** Prints one line of the report (the demo passes a no-op with `--json`). */
  log: (line: string) => void;
  /** Seeds `route()`'s exploration draws (the simulator's own seed decides the latencies). @defaultValue 1 */
  seed?: number;
  /**
   * Where the scale-out section looks for Redis: `REDIS_URL`, else a `redis-server` on `PATH` (which it
   * starts). Without it (or with neither there), that section prints one line saying how to enable it.
   */
  env?: Record<string, string | undefined>;
}

/** Why a techniques section did not run. */
export interface SkippedSection {
  skipped: string;
}
