/**
 * An Angular service over an rxllm pipeline: plain RxJS, no Angular-specific rxllm API.
 *
 * The pipeline comes in through an injection token, so the app decides where requests go (a
 * backend route through `sseTransport({ baseURL: '/api/llm/v1' })`, never an API key in the
 * browser) and a test passes a scripted one.
 *
 *   providers: [{ provide: ANALYSIS_PIPELINE, useFactory: () => contentAnalysis(sseTransport({ baseURL: '/api/llm/v1' })) }]
 *
 * (`contentAnalysis` is in ./contentAnalysis.ts.)
 */
import { Injectable, InjectionToken, inject } from '@angular/core';
import { catchError, distinctUntilChanged, filter, map, type Observable, of, shareReplay, startWith, Subject, switchMap } from 'rxjs';
import { isRxllmError, type GraphState, type Runnable } from 'rxllm';

/** What the analysis produces: the seed article's record, with a drafted reply. */
export type AnalysisRecord = {
  sentiment: 'positive' | 'negative' | 'neutral';
  summary: string;
  keywords: string[];
  reply: string;
};

/** The pipeline the service runs: anything that runs on a text and reports graph states. */
export type AnalysisPipeline = Runnable<string, AnalysisRecord, GraphState<AnalysisRecord>>;

/** Provide the pipeline here (a `graph()` of steps on your transport). */
export const ANALYSIS_PIPELINE = new InjectionToken<AnalysisPipeline>('rxllm analysis pipeline');

/** Everything a view needs, one value per moment. */
export type AnalysisView =
  | { status: 'idle' }
  | { status: 'running'; text: string; state: GraphState<AnalysisRecord> }
  | { status: 'done'; text: string; state: GraphState<AnalysisRecord>; record: AnalysisRecord }
  | { status: 'error'; text: string; code: string; message: string };

@Injectable({ providedIn: 'root' })
export class AnalysisService {
  private readonly pipeline = inject(ANALYSIS_PIPELINE);
  private readonly texts = new Subject<string>();

  /**
   * The analysis of the latest text, live: `idle`, then a `running` view per pipeline state
   * (every node's `textSoFar` grows token by token), then `done` with the record, or `error`.
   *
   * - A new text cancels the run in flight (`switchMap`): its requests are aborted.
   * - A failed run becomes an `error` view *inside* `switchMap`, so the next text still runs:
   *   `catchError` outside it would end `analysis$` for good at the first failure.
   * - Shared (`shareReplay` with `refCount`): every reader sees one run; when the last one
   *   leaves (the component is destroyed), the run is unsubscribed and its requests aborted.
   */
  readonly analysis$: Observable<AnalysisView> = this.texts.pipe(
    map((text) => text.trim()),
    filter((text) => text.length > 0),
    distinctUntilChanged(),
    switchMap((text) =>
      this.pipeline.run(text).pipe(
        map((state): AnalysisView => (state.status === 'done' ? { status: 'done', text, state, record: state.value } : { status: 'running', text, state })),
        catchError((error: unknown) =>
          of<AnalysisView>({
            status: 'error',
            text,
            code: isRxllmError(error) ? error.code : 'unknown',
            message: isRxllmError(error) ? error.message : 'The analysis failed.',
          }),
        ),
      ),
    ),
    startWith<AnalysisView>({ status: 'idle' }),
    shareReplay({ bufferSize: 1, refCount: true }),
  );

  /** Analyses `text`; an empty text or the same text again is ignored. */
  analyse(text: string): void {
    this.texts.next(text);
  }
}
