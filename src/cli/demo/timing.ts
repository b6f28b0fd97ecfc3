// How the techniques' sections measure: each request's times, and the calls that reached the endpoint. Internal.
import { defer, map, type Observable, tap } from 'rxjs';
import { isContentEvent, type LlmEvent } from '../../core/events.js';
import type { Transport } from '../../core/transport.js';
import type { SimulatorServer } from '../../node/simulatorServer.js';
import { result } from '../../operators/result.js';

/** One request as {@link timed} saw it. */
export interface Timing {
  firstTokenMs: number;
  totalMs: number;
  text: string;
}

/** Who counted a section's upstream calls (it is printed, and part of the report). */
export type CountedBy = "the simulator's /stats" | 'a counting middleware';

/** Times one request from subscribe: to its first content event and to its end (CLI measurement, not operator logic). */
export function timed(events: Observable<LlmEvent>): Observable<Timing> {
  return defer(() => {
    const start = performance.now();
    let firstTokenMs: number | undefined;
    return events.pipe(
      tap((event) => {
        if (firstTokenMs === undefined && isContentEvent(event)) firstTokenMs = performance.now() - start;
      }),
      result(),
      map(({ text }) => {
        const totalMs = performance.now() - start;
        return { firstTokenMs: firstTokenMs ?? totalMs, totalMs, text };
      }),
    );
  });
}

/** Counts upstream calls: from the simulator's /stats when there is one, else with a middleware over the transport. */
export function upstreamCounter(config: { transport: Transport; server?: SimulatorServer }): { transport: Transport; countedBy: CountedBy; reset(): void; requests(): number } {
  const { server } = config;
  if (server) return { transport: config.transport, countedBy: "the simulator's /stats", reset: () => server.resetStats(), requests: () => server.stats().requests };
  let requests = 0;
  return {
    transport: (request, context) => defer(() => (requests++, config.transport(request, context))),
    countedBy: 'a counting middleware',
    reset: () => void (requests = 0),
    requests: () => requests,
  };
}
